import type { Readable } from 'node:stream';

/** Collects a child's stdout+stderr (bounded, keeping the newest output) and hands out whole lines. */
export class OutputCapture {
  private readonly chunks: string[] = [];
  private size = 0;

  constructor(
    private readonly onLine?: (line: string) => void,
    private readonly maxChars = 8_000_000,
  ) {}

  attach(stream: Readable | null | undefined): void {
    if (!stream) return;
    stream.setEncoding('utf8');
    let partial = '';
    stream.on('data', (chunk: string) => {
      this.append(chunk);
      if (!this.onLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.emit(line);
    });
    stream.on('end', () => {
      if (partial) this.emit(partial);
      partial = '';
    });
  }

  /** Something to remember that did not come from the child (a spawn error). */
  note(text: string): void {
    this.append(text.endsWith('\n') ? text : `${text}\n`);
  }

  text(): string {
    return this.chunks.join('');
  }

  tail(lines = 40): string {
    return this.text().trimEnd().split('\n').slice(-lines).join('\n');
  }

  private emit(line: string): void {
    try {
      this.onLine?.(line.replace(/\r$/, ''));
    } catch {
      // a failing printer must not take the capture down
    }
  }

  private append(text: string): void {
    this.chunks.push(text);
    this.size += text.length;
    while (this.size > this.maxChars && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
}
