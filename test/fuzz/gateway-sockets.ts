import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * Remote ports of the TCP connections on `localPort` that process `pid`
 * still holds a descriptor for (Linux /proc). A connection the gateway has
 * closed is either gone or an orphan in TIME_WAIT/FIN_WAIT without a
 * descriptor; one it still holds can pile up until accept() fails (EMFILE).
 */
export async function heldConnections(pid: number, localPort: number): Promise<Set<number>> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const rows = (await readFile(table, 'utf8').catch(() => '')).trim().split('\n').slice(1);
    for (const row of rows) {
      const fields = row.trim().split(/\s+/);
      const local = parseInt(fields[1]?.split(':').at(-1) ?? '', 16);
      const remote = parseInt(fields[2]?.split(':').at(-1) ?? '', 16);
      if (local === localPort && inodes.has(fields[9] ?? '')) ports.add(remote);
    }
  }
  return ports;
}
