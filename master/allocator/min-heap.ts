// A binary min-heap with an in-place "the top changed" operation: the allocator keeps frameworks
// ordered by dominant share and, after giving the top one an agent, only sifts it down.

export class MinHeap<T> {
  private readonly items: T[];

  /** Heapifies `items` in O(n); the array is taken over, not copied. */
  constructor(
    items: T[],
    private readonly less: (a: T, b: T) => boolean,
  ) {
    this.items = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    this.items.push(item);
    this.siftUp(this.items.length - 1);
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** The top item's key grew (or shrank): restore the order. */
  updateTop(): void {
    if (this.items.length > 0) this.siftDown(0);
  }

  private siftUp(index: number): void {
    const items = this.items;
    const item = items[index] as T;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (!this.less(item, parent)) break;
      items[index] = parent;
      index = parentIndex;
    }
    items[index] = item;
  }

  private siftDown(index: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[index] as T;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.less(items[right] as T, items[left] as T)) child = right;
      if (!this.less(items[child] as T, item)) break;
      items[index] = items[child] as T;
      index = child;
    }
    items[index] = item;
  }
}
