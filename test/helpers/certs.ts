// Test certificates made at test time with the openssl command: a private CA and a
// leaf for `names` signed by it, plus a self-signed leaf. Files live in a tmp dir.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caFile: string;
  ca: string;
  key: string;
  cert: string;
  selfSignedKey: string;
  selfSignedCert: string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

export function makeTestCerts(names: string[] = ['www.example.test']): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Vantage Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const san = names.map((n) => `DNS:${n}`).join(',');
  openssl(['req', '-new', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${names[0]}`], dir);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem',
    '-days', '2', '-extfile', 'ext.cnf'], dir);
  openssl(['req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', `/CN=${names[0]}`,
    '-addext', `subjectAltName=${san}`], dir);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    ca: read('ca.pem'),
    key: read('leaf.key'),
    cert: read('leaf.pem'),
    selfSignedKey: read('self.key'),
    selfSignedCert: read('self.pem'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
