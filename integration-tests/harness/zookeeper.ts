// A real, single-node ZooKeeper (Debian's `zookeeper` package) on a free loopback port, for tests.
// Each server has its own temp dir (zoo.cfg, data, zookeeper.log); stop/restart keep the data so a
// test can take the ensemble away and bring it back (session expiry, reconnection).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { access, mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const JAVA_DIR = '/usr/share/java';
const CLASSPATH = `${JAVA_DIR}/*:/etc/zookeeper/conf_example`;
const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export interface ZooKeeperServerOptions {
  /** ZooKeeper's tick; the minimum session timeout is 2 ticks. Default 200 ms (2 s sessions). */
  tickTimeMs?: number;
  /** JVM heap; default 256 MB. 10,000 agents registering at once (bench:failover) need about 1 GB. */
  heapMb?: number;
}

/** Sends a four-letter word and resolves with the whole answer ('' when nothing answers). */
export function fourLetterWord(port: number, word: string, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
  });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone: the exit event settles `exited`
  }
}

/** JVMs started here and still running: killed if the test process exits without destroying them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.pid !== undefined) signal(child.pid, 'SIGKILL');
});

export class ZooKeeperServer {
  readonly connectString: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log: WriteStream | undefined;
  private destroyed = false;

  private constructor(
    readonly port: number,
    /** Temp dir holding zoo.cfg, data/ and zookeeper.log. */
    readonly dir: string,
    private readonly heapMb: number,
  ) {
    this.connectString = `127.0.0.1:${port}`;
  }

  get logFile(): string {
    return join(this.dir, 'zookeeper.log');
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Whether this host can run one: java and Debian's ZooKeeper jars. */
  static async available(): Promise<{ ok: boolean; reason?: string }> {
    const java = await new Promise<boolean>((resolve) => {
      const probe = spawn('java', ['-version'], { stdio: 'ignore' });
      probe.once('error', () => resolve(false));
      probe.once('exit', (code) => resolve(code === 0));
    });
    if (!java) return { ok: false, reason: 'no `java` on PATH (apt-get install -y zookeeper brings Java 17)' };
    const jars = await readdir(JAVA_DIR).catch(() => [] as string[]);
    if (!jars.some((name) => /^zookeeper.*\.jar$/.test(name))) {
      return { ok: false, reason: `no ZooKeeper jar in ${JAVA_DIR} (apt-get install -y zookeeper)` };
    }
    try {
      await access('/etc/zookeeper/conf_example');
    } catch {
      return { ok: false, reason: 'no /etc/zookeeper/conf_example (apt-get install -y zookeeper)' };
    }
    return { ok: true };
  }

  static async start(options: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
    const tick = options.tickTimeMs ?? 200;
    const dir = await mkdtemp(join(tmpdir(), 'tessera-zk-'));
    try {
      const port = await freePort();
      const dataDir = join(dir, 'data');
      await mkdir(dataDir);
      const cfg = [
        `tickTime=${tick}`,
        'initLimit=10',
        'syncLimit=5',
        `dataDir=${dataDir}`,
        `clientPort=${port}`,
        'clientPortAddress=127.0.0.1',
        `minSessionTimeout=${2 * tick}`,
        'maxSessionTimeout=60000',
        'maxClientCnxns=0',
        'admin.enableServer=false',
        '4lw.commands.whitelist=*',
        // Snapshots/log purging are irrelevant for a server that lives for one test run.
        'autopurge.purgeInterval=0',
        '',
      ].join('\n');
      await writeFile(join(dir, 'zoo.cfg'), cfg);
      const server = new ZooKeeperServer(port, dir, options.heapMb ?? 256);
      await server.launch();
      return server;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** `zk://[user:password@]127.0.0.1:PORT/path`; credentials are percent-encoded. */
  url(path = '/tessera', credentials?: { user: string; password: string }): string {
    const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
    const absolute = path.startsWith('/') ? path : `/${path}`;
    return `zk://${auth}${this.connectString}${absolute}`;
  }

  /**
   * A TCP relay to this server whose link a test can cut and restore. ZooKeeper keeps sessions
   * across its own restart, so to make a client's session expire, cut the client off through a
   * proxy for longer than the session timeout while the server keeps running.
   */
  proxy(): Promise<ZooKeeperProxy> {
    return ZooKeeperProxy.start(this.port);
  }

  /** SIGTERM, SIGKILL after 5 s; resolves once the JVM is gone. The data dir stays. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running || child.pid === undefined) {
      await this.exited;
      return;
    }
    signal(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.running && child.pid !== undefined) signal(child.pid, 'SIGKILL');
    }, STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port with the same data, and waits until it answers. */
  async restart(): Promise<void> {
    if (this.destroyed) throw new Error(`ZooKeeper on ${this.connectString} was destroyed`);
    await this.stop();
    await this.launch();
  }

  /** stop() and remove the temp dir (config, data, log). */
  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.stop();
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    this.log?.end();
    const log = createWriteStream(this.logFile, { flags: 'a' });
    this.log = log;
    const child = spawn(
      'java',
      [
        `-Xmx${this.heapMb}m`,
        '-Dzookeeper.root.logger=INFO,CONSOLE',
        `-Dzookeeper.log.dir=${this.dir}`,
        // No JMX: nothing here uses it and it costs start-up time.
        '-Dzookeeper.jmx.log4j.disable=true',
        '-cp',
        CLASSPATH,
        MAIN_CLASS,
        join(this.dir, 'zoo.cfg'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    live.add(child);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    let exitInfo: string | undefined;
    let spawnError: Error | undefined;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        resolve();
      });
      child.once('exit', (code, signalName) => {
        live.delete(child);
        exitInfo = signalName ? `signal ${signalName}` : `code ${code}`;
        resolve();
      });
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawnError) throw new Error(`could not start java for ZooKeeper: ${spawnError.message}`);
      if (exitInfo) throw new Error(`ZooKeeper on ${this.connectString} exited with ${exitInfo} before it was ready; see ${this.logFile}`);
      // `ruok` says imok as soon as the port listens, before the server serves requests; `srvr`
      // reports a Mode only once it does.
      if ((await fourLetterWord(this.port, 'ruok', 500)) === 'imok' && /^Mode: /m.test(await fourLetterWord(this.port, 'srvr', 500))) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`ZooKeeper on ${this.connectString} did not answer ruok/srvr within ${READY_TIMEOUT_MS} ms; see ${this.logFile}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A loopback TCP relay to a ZooKeeper port; `cut()` drops every connection and refuses new ones. */
export class ZooKeeperProxy {
  private readonly sockets = new Set<Socket>();
  private linked = true;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {
    server.on('connection', (client) => this.relay(client));
  }

  static async start(targetPort: number): Promise<ZooKeeperProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return new ZooKeeperProxy(server, port, targetPort);
  }

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Like ZooKeeperServer.url, through this proxy. */
  url(path = '/tessera', credentials?: { user: string; password: string }): string {
    const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
    return `zk://${auth}${this.connectString}${path.startsWith('/') ? path : `/${path}`}`;
  }

  /** Drops every relayed connection; new ones are closed at once until restore(). */
  cut(): void {
    this.linked = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.linked = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    if (!this.linked) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
