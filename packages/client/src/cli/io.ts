/** What the CLI touches of the outside world, so that tests can run it in-process. */

export interface Output {
  write(chunk: string): unknown;
}

export interface Input extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface CliIO {
  stdout: Output;
  stderr: Output;
  stdin: Input;
  env: Record<string, string | undefined>;
}
