// Shows Docker image pulls on the daemon's terminal: a progress bar per image on a TTY, a line per
// status change otherwise (log files, CI).
import { SingleBar, Presets } from 'cli-progress';

export interface PullProgress {
  current?: number;
  total?: number;
  status: string;
}

export type PullProgressReporter = (image: string, progress: PullProgress) => void;

export function pullProgressReporter(stream: NodeJS.WriteStream = process.stderr): PullProgressReporter {
  return stream.isTTY ? barReporter(stream) : lineReporter(stream);
}

function barReporter(stream: NodeJS.WriteStream): PullProgressReporter {
  const bars = new Map<string, SingleBar>();
  return (image, { current, total, status }) => {
    let bar = bars.get(image);
    if (!bar) {
      bar = new SingleBar(
        { stream, format: `pulling ${image} [{bar}] {percentage}% {status}`, hideCursor: true, clearOnComplete: false },
        Presets.shades_classic,
      );
      bar.start(total ?? 1, 0, { status });
      bars.set(image, bar);
    }
    if (total !== undefined && total > 0) bar.setTotal(total);
    bar.update(current ?? 0, { status });
    if (/^Status: /.test(status)) {
      bar.stop();
      bars.delete(image);
    }
  };
}

function lineReporter(stream: NodeJS.WriteStream): PullProgressReporter {
  const last = new Map<string, string>();
  return (image, { current, total, status }) => {
    // One line per status change and per quarter of a layer, not one per chunk.
    const quarter = current !== undefined && total ? Math.floor((4 * current) / total) * 25 : undefined;
    const key = `${status}|${quarter ?? ''}`;
    if (last.get(image) === key) return;
    last.set(image, key);
    stream.write(`pulling ${image}: ${status}${quarter === undefined ? '' : ` ${quarter}%`}\n`);
  };
}
