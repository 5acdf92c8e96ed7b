// Summarises one transformed part: reads the upper-cased text and the word counts the Go
// transformer published, writes a short Markdown summary and records an insight.
import { type Module, run } from "ion-module";

interface Counts {
  words: number;
  top: Array<{ word: string; count: number }>;
}

export function summarise(module: Module): void {
  const received = module.inputFiles();
  const upperFile = received.find((name) => name.startsWith("upper/"));
  const countsFile = received.find((name) => name.startsWith("counts/"));
  if (!upperFile || !countsFile) {
    throw new Error(`expected an upper/ and a counts/ file, got ${received.join(", ")}`);
  }
  const text = module.readInputText(upperFile);
  const counts = JSON.parse(module.readInputText(countsFile)) as Counts;
  const index = module.data.index ?? "?";
  const firstLine = text.split("\n")[0] ?? "";
  const topWords = counts.top.map((t) => `${t.word} (${t.count})`).join(", ");
  module.writeFile(
    `summary/part-${index}.md`,
    `# Part ${index} of ${module.data.total ?? "?"}\n\n${counts.words} words; most frequent: ${topWords}\n\n> ${firstLine}\n`,
  );
  module.insight({
    received,
    index: Number(index),
    words: counts.words,
    top_word: counts.top[0]?.word ?? null,
    first_line: firstLine,
  });
}

await run(summarise);
