/**
 * "Did you mean ...?" for misspelt keys and values. Spelling variants (`ready_timeout`,
 * `readyTimeout`, `READY-TIMEOUT`) are matched first because they are the commonest
 * mistake for people coming from other tools' configs; then small typos by edit distance.
 */

/** The closest candidate, or undefined when none is close enough to be a likely intent. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const plain = normalize(word);
  const sameWord = candidates.find((candidate) => normalize(candidate) === plain);
  if (sameWord !== undefined) return sameWord;
  // Allow about one typo per three characters, at most two: enough for "wrokers" →
  // "workers" without proposing "user" for "uid".
  const limit = Math.min(2, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const other = normalize(candidate);
    // the distance is at least the difference in length: a long key costs no table
    if (Math.abs(other.length - plain.length) > limit) continue;
    const distance = editDistance(plain, other);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function normalize(word: string): string {
  return word.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase().replace(/_/g, "-");
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const width = b.length + 1;
  const table = new Array<number>((a.length + 1) * width).fill(0);
  const at = (i: number, j: number): number => table[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) table[i * width] = i;
  for (let j = 0; j <= b.length; j++) table[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, at(i - 2, j - 2) + 1);
      table[i * width + j] = distance;
    }
  }
  return at(a.length, b.length);
}
