// The public face of master/allocator/: the DRF allocator (pure, synchronous; time from an injected clock).
export type { Allocation, AllocatorOptions } from './drf-allocator.js';
export { DEFAULT_MIN_ALLOCATABLE, DEFAULT_REFUSE_SECONDS, DEFAULT_ROLE, DrfAllocator } from './drf-allocator.js';
export { AllocatorError } from './errors.js';
