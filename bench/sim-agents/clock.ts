// Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one host
// (the fleet may run in worker processes while the bench times the masters).
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
