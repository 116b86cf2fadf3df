// Progress on stderr: on a terminal one status line rewritten in place, elsewhere (CI logs) a line
// every few seconds, so a long run shows it is alive without flooding the log.

const NON_TTY_EVERY_MS = 3000;

export class Progress {
  constructor(stream = process.stderr) {
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.status = '';
    this.lastPrinted = 0;
    this.sectionStart = Date.now();
    this.prefix = '';
  }

  section(index, total, name, title) {
    this.clear();
    this.prefix = `[${index}/${total}] ${name}`;
    this.sectionStart = Date.now();
    this.stream.write(`${this.prefix}: ${title}\n`);
  }

  elapsed() {
    return ((Date.now() - this.sectionStart) / 1000).toFixed(1);
  }

  /** Replaces the status line (rate-limited off a terminal). */
  update(text) {
    const line = `  ${text} · ${this.elapsed()} s`;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastPrinted < 100) return;
      this.lastPrinted = now;
      const width = this.stream.columns || 120;
      this.stream.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
      this.status = line;
      return;
    }
    if (now - this.lastPrinted >= NON_TTY_EVERY_MS) {
      this.stream.write(`${line}\n`);
      this.lastPrinted = now;
    }
  }

  /** Calls `describe` every 250 ms and shows what it returns, until the returned stop() is called. */
  live(describe) {
    const timer = setInterval(() => this.update(describe()), 250);
    this.update(describe());
    return () => clearInterval(timer);
  }

  /** A finished step: one permanent line. */
  note(text) {
    this.clear();
    this.stream.write(`  ${text}\n`);
  }

  clear() {
    if (this.tty && this.status) this.stream.write('\r\x1b[2K');
    this.status = '';
    this.lastPrinted = 0;
  }
}
