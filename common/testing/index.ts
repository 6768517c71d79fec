// Test doubles shared by every folder's tests (imported by tests only, never by product code).
export { ManualClock } from './manual-clock.js';
