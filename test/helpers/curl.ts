// curl as a test client: runs `curl -s -i` and splits status, headers and body.
import { execFile } from 'node:child_process';

export interface CurlResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** curl's exit code (0 on a complete transfer). */
  exit: number;
}

export function curl(args: string[], timeoutS = 5): Promise<CurlResponse> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-i', '--max-time', String(timeoutS), ...args], { encoding: 'latin1', maxBuffer: 64 << 20 }, (err, stdout) => {
      const exit = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
      // Skip interim responses (100 Continue) and proxy CONNECT preambles: the last head wins.
      let rest = stdout;
      let head = '';
      for (;;) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) { head = head || rest; rest = ''; break; }
        head = rest.slice(0, end);
        rest = rest.slice(end + 4);
        if (!/^HTTP\/\S+ 1\d\d /.test(head)) break;
      }
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) {
          const k = l.slice(0, i).trim().toLowerCase();
          headers[k] = headers[k] ? `${headers[k]}, ${l.slice(i + 1).trim()}` : l.slice(i + 1).trim();
        }
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest, exit });
    });
  });
}
