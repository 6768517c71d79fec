import assert from 'node:assert/strict';
import { pullProgressReporter } from './pull-progress.js';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const stream = {
    isTTY,
    text: '',
    columns: 80,
    write(chunk: string) {
      stream.text += chunk;
      return true;
    },
    on: () => stream,
    removeListener: () => stream,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  };
  return stream as unknown as NodeJS.WriteStream & { text: string };
}

describe('pull progress', () => {
  it('writes a line per status change and per quarter of a layer when not on a terminal', () => {
    const stream = fakeStream(false);
    const report = pullProgressReporter(stream);
    report('busybox', { status: 'Pulling from library/busybox' });
    for (let current = 0; current <= 1000; current += 10) report('busybox', { status: 'Downloading', current, total: 1000 });
    report('busybox', { status: 'Status: Downloaded newer image for busybox:latest' });
    const lines = stream.text.trim().split('\n');
    assert.deepEqual(lines, [
      'pulling busybox: Pulling from library/busybox',
      'pulling busybox: Downloading 0%',
      'pulling busybox: Downloading 25%',
      'pulling busybox: Downloading 50%',
      'pulling busybox: Downloading 75%',
      'pulling busybox: Downloading 100%',
      'pulling busybox: Status: Downloaded newer image for busybox:latest',
    ]);
  });

  it('draws a bar with the image name on a terminal', () => {
    const stream = fakeStream(true);
    const report = pullProgressReporter(stream);
    report('busybox', { status: 'Downloading', current: 500, total: 1000 });
    report('busybox', { status: 'Status: Downloaded newer image for busybox:latest' });
    assert.match(stream.text, /pulling busybox \[.*\] \d+%/);
  });
});
