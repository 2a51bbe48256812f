import { createInterface } from 'node:readline';

/**
 * A password: typed at a hidden prompt when stdin is a terminal, else the
 * first line of stdin (for scripts: `echo "$PW" | postern login`). Never an
 * argument, which other users could read in the process list.
 */
export async function readPassword(prompt: string): Promise<string> {
  const password = process.stdin.isTTY ? await hiddenPrompt(prompt) : await firstLineOfStdin();
  if (!password) throw new Error('no password given');
  return password;
}

export async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

function hiddenPrompt(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput(text: string): void };
    let prompted = false;
    output._writeToOutput = (text: string) => {
      // Show the prompt once; echo nothing of what is typed.
      if (!prompted) process.stderr.write(text);
      prompted = true;
    };
    rl.question(prompt, (answer) => {
      process.stderr.write('\n');
      rl.close();
      resolve(answer);
    });
  });
}
