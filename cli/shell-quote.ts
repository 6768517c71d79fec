// Joins `tessera run -- CMD…` into one /bin/sh string. A single word is taken as a shell string as
// typed (`tessera run -- 'a && b'`); several words are quoted where needed so that
// `tessera run -- sh -c 'exit 3'` runs what it says instead of `sh -c exit 3`.

const SAFE_WORD = /^[A-Za-z0-9_\-+=.,/:@%^]+$/;

export function quoteShellWord(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function joinCommand(words: readonly string[]): string {
  if (words.length === 1) return words[0] ?? '';
  return words.map(quoteShellWord).join(' ');
}
