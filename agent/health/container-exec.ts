// The narrow port health checks use to reach into Docker containers (`docker exec`, the container's
// address), and its dockerode implementation. The agent owns this port; the Docker executor keeps its own.
import Docker from 'dockerode';
import { PassThrough } from 'node:stream';

export interface ExecResult {
  /** null when the exec was cut off (abort) or the engine did not say. */
  exitCode: number | null;
  /** The tail of stdout and stderr together. */
  output: string;
}

export interface ContainerExec {
  /** Runs argv in the running container; on abort the exec's process is SIGKILLed and this resolves. */
  exec(dockerId: string, argv: string[], options: { env?: string[]; signal: AbortSignal }): Promise<ExecResult>;
  /** The container's IP on its (first) network; undefined on host networking or when it has none. */
  address(dockerId: string): Promise<string | undefined>;
}

const MAX_OUTPUT = 4096;

export class DockerodeExec implements ContainerExec {
  private readonly docker: Docker;

  constructor(options: { socketPath?: string } = {}) {
    this.docker = new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock' });
  }

  async exec(dockerId: string, argv: string[], options: { env?: string[]; signal: AbortSignal }): Promise<ExecResult> {
    const exec = await this.docker.getContainer(dockerId).exec({
      Cmd: argv,
      AttachStdout: true,
      AttachStderr: true,
      ...(options.env && options.env.length > 0 ? { Env: options.env } : {}),
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    let output = '';
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    });
    this.docker.modem.demuxStream(stream, sink, sink);
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    const aborted = new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      options.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([ended, aborted]);
    if (options.signal.aborted) {
      // Docker has no "kill exec": the exec's process is a process on this host, with a host pid.
      const info = await exec.inspect().catch(() => undefined);
      if (info?.Running && info.Pid > 0) {
        try {
          process.kill(info.Pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      stream.destroy();
      return { exitCode: null, output };
    }
    const info = await exec.inspect();
    return { exitCode: typeof info.ExitCode === 'number' ? info.ExitCode : null, output };
  }

  async address(dockerId: string): Promise<string | undefined> {
    const info = await this.docker.getContainer(dockerId).inspect();
    const settings = info.NetworkSettings as { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> };
    if (settings.IPAddress) return settings.IPAddress;
    for (const network of Object.values(settings.Networks ?? {})) if (network.IPAddress) return network.IPAddress;
    return undefined;
  }
}
