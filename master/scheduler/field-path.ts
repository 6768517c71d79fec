// Field paths in errors: common's validators say `a.b.0.c`; Mesos users read `a.b[0].c`.

export function bracketPath(dotted: string): string {
  return dotted.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}
