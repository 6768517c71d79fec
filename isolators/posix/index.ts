// The public face of isolators/posix/.
export { PosixIsolator } from './posix-isolator.js';
