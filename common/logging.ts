// JSON-lines logging (pino) for every daemon. Tests pass `level: 'silent'`.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(name: string, level: string = process.env.TESSERA_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid, component: name } });
}

export const silentLogger: Logger = pino({ level: 'silent' });
