import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

/** PEM material the HTTPS server needs, plus where the CA certificate lives on disk. */
export interface TlsMaterial {
  caCertPem: string;
  caCertPath: string;
  serverCertPem: string;
  serverKeyPem: string;
}

/** RSA 2048 key pair from Node's native crypto (node-forge's pure-JS keygen takes seconds). */
function rsaKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** Positive random serial number (hex), as X.509 requires. */
function serial(): string {
  const b = randomBytes(16);
  // First byte 0x01-0x7f: a positive INTEGER in minimal DER. A leading 0x00 byte (1 serial in 128 before)
  // is non-minimal padding, which Node 22's OpenSSL refuses ("asn1 encoding routines::illegal padding").
  b[0] = (b[0] & 0x7f) | 0x01;
  return b.toString('hex');
}

/**
 * Creates (first start) or loads (later starts) the emulator's own certificate authority in
 * `dataDir/ca.crt` + `dataDir/ca.key`, then issues a fresh server certificate signed by it with
 * SANs DNS:localhost, IP:127.0.0.1, IP:::1 (node-forge builds and signs; keys come from
 * crypto.generateKeyPairSync, so a cold start takes well under a second).
 * The CA is RSA 2048, SHA-256, basicConstraints CA:TRUE (critical), keyUsage keyCertSign+cRLSign,
 * valid 10 years; the server certificate is valid 1 year and is not persisted.
 * Throws if dataDir cannot be created or the stored CA files are unreadable/corrupt.
 */
export function ensureTlsMaterial(dataDir: string): TlsMaterial {
  mkdirSync(dataDir, { recursive: true });
  const caCertPath = join(dataDir, 'ca.crt');
  const caKeyPath = join(dataDir, 'ca.key');
  let caCertPem: string;
  let caKeyPem: string;
  if (existsSync(caCertPath) && existsSync(caKeyPath)) {
    caCertPem = readFileSync(caCertPath, 'utf8');
    caKeyPem = readFileSync(caKeyPath, 'utf8');
  } else {
    const kp = rsaKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(kp.publicKeyPem);
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600_000);
    const attrs = [
      { name: 'commonName', value: 'Test Drive Local Azure Emulator CA' },
      { name: 'organizationName', value: 'Local Azure Emulator' },
    ];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(forge.pki.privateKeyFromPem(kp.privateKeyPem), forge.md.sha256.create());
    caCertPem = forge.pki.certificateToPem(cert);
    caKeyPem = kp.privateKeyPem;
    writeFileSync(caKeyPath, caKeyPem, { mode: 0o600 });
    writeFileSync(caCertPath, caCertPem);
  }
  const caCert = forge.pki.certificateFromPem(caCertPem);
  const caKey = forge.pki.privateKeyFromPem(caKeyPem);

  const kp = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(kp.publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { caCertPem, caCertPath, serverCertPem: forge.pki.certificateToPem(cert), serverKeyPem: kp.privateKeyPem };
}
