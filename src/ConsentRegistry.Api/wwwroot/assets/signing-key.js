// The artist's signing key: an ECDSA P-256 key made with WebCrypto. The private key lives in
// IndexedDB as a non-extractable CryptoKey; its exportable JWK exists only in memory, right after
// creation or restore, so that a passphrase-encrypted backup can be downloaded.
import { base64url, fromBase64url, utf8 } from './app.js';

const DATABASE = 'consent-registry';
const STORE = 'keys';
const RECORD = 'signing-key';
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' };

export const BACKUP_FORMAT = 'consent-registry-key-backup';
export const BACKUP_FILE_NAME = 'consent-registry-key-backup.json';
export const PBKDF2_ITERATIONS = 600000;
export const MIN_PASSPHRASE_LENGTH = 12;

/** A backup that cannot be used; kind is 'passphrase' or 'format'. */
export class BackupError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

function openDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, action) {
  const db = await openDatabase();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = action(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

/** The stored key record {privateKey, publicJwk, party, created}, or null when there is none. */
export async function loadKey() {
  const record = await withStore('readonly', (store) => store.get(RECORD));
  return record && record.privateKey && record.publicJwk && record.party ? record : null;
}

async function storeKey(privateJwk, created) {
  const publicJwk = { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y };
  // Re-imported without extractable: from here on the browser signs with it but never hands it out.
  const privateKey = await crypto.subtle.importKey('jwk', { ...publicJwk, d: privateJwk.d }, ALGORITHM, false, ['sign']);
  const record = { privateKey, publicJwk, party: await thumbprint(publicJwk), created };
  await withStore('readwrite', (store) => store.put(record, RECORD));
  return record;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the party id. */
export async function thumbprint(publicJwk) {
  const canonical = `{"crv":"${publicJwk.crv}","kty":"${publicJwk.kty}","x":"${publicJwk.x}","y":"${publicJwk.y}"}`;
  return base64url(await crypto.subtle.digest('SHA-256', utf8(canonical)));
}

/** Makes and stores a new key; returns {record, privateJwk} (privateJwk only for the backup). */
export async function createKey() {
  const pair = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const privateJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d };
  const record = await storeKey(privateJwk, new Date().toISOString());
  return { record, privateJwk };
}

async function backupKey(passphrase, salt, iterations) {
  const material = await crypto.subtle.importKey('raw', utf8(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt']);
}

/** The backup file's object: the private JWK encrypted with AES-GCM under a PBKDF2 key. */
export async function makeBackup(record, privateJwk, passphrase) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await backupKey(passphrase, salt, PBKDF2_ITERATIONS);
  const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, utf8(JSON.stringify(privateJwk)));
  return {
    format: BACKUP_FORMAT,
    version: 1,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: PBKDF2_ITERATIONS, salt: base64url(salt) },
    cipher: { name: 'AES-GCM', iv: base64url(iv) },
    ciphertext: base64url(ciphertext),
    party: record.party,
    publicJwk: record.publicJwk,
  };
}

/** Opens a backup and stores its key in this browser; returns {record, privateJwk}. */
export async function restoreBackup(backup, passphrase) {
  if (!backup || backup.format !== BACKUP_FORMAT || backup.version !== 1 || !backup.kdf || !backup.cipher
      || backup.kdf.name !== 'PBKDF2' || backup.kdf.hash !== 'SHA-256' || backup.cipher.name !== 'AES-GCM'
      || typeof backup.ciphertext !== 'string') {
    throw new BackupError('format', 'This file is not a ConsentRegistry key backup.');
  }
  const iterations = Number(backup.kdf.iterations);
  if (!Number.isInteger(iterations) || iterations < 100000 || iterations > 10000000) {
    throw new BackupError('format', 'This backup names an unusable number of PBKDF2 iterations.');
  }
  let salt;
  let iv;
  let ciphertext;
  try {
    salt = fromBase64url(backup.kdf.salt);
    iv = fromBase64url(backup.cipher.iv);
    ciphertext = fromBase64url(backup.ciphertext);
  } catch {
    throw new BackupError('format', 'This backup file is damaged (a field is not base64url).');
  }
  let plaintext;
  try {
    const key = await backupKey(passphrase, salt, iterations);
    plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, ciphertext);
  } catch {
    // AES-GCM authenticates: a wrong passphrase (or a changed file) fails here.
    throw new BackupError('passphrase', 'That passphrase does not open this backup.');
  }
  let jwk;
  try {
    jwk = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    throw new BackupError('format', 'This backup does not hold a key.');
  }
  if (!jwk || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d || !jwk.x || !jwk.y) {
    throw new BackupError('format', 'This backup does not hold an ECDSA P-256 key.');
  }
  const privateJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d };
  const party = await thumbprint(privateJwk);
  if (backup.party && backup.party !== party) {
    throw new BackupError('format', 'This backup is inconsistent: its key does not match the party it names.');
  }
  const record = await storeKey(privateJwk, new Date().toISOString());
  return { record, privateJwk };
}

/** A compact JWS (ES256, typ consent-claim, the public key in the header) of a JSON payload. */
export async function signJws(record, payload) {
  const header = { alg: 'ES256', typ: 'consent-claim', jwk: record.publicJwk };
  const signingInput = `${base64url(utf8(JSON.stringify(header)))}.${base64url(utf8(JSON.stringify(payload)))}`;
  // WebCrypto's ECDSA signature is already the JWS form: r || s, 64 bytes.
  const signature = await crypto.subtle.sign(SIGNING, record.privateKey, utf8(signingInput));
  return `${signingInput}.${base64url(signature)}`;
}

/** Seconds since the epoch, for iat. */
export function now() {
  return Math.floor(Date.now() / 1000);
}
