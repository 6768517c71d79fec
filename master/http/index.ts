// The public face of master/http/.
export { createApp, ROUTES } from './app.js';
export type { MasterApi, Routing } from './app.js';
