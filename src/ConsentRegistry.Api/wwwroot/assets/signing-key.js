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
export const MIN_PBKDF2_ITERATIONS = 600000;
export const MAX_PBKDF2_ITERATIONS = 2000000;
export const BACKUP_VERSION = 2;
/** A backup file is a few hundred bytes; anything larger is not one and is not read. */
export const MAX_BACKUP_BYTES = 64 * 1024;
const MIN_SALT_BYTES = 16;
const IV_BYTES = 12;
const NOT_A_BACKUP = 'This is not a valid backup file';
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

const usable = (record) => Boolean(record && record.privateKey && record.publicJwk && record.party);

/** The stored key record {privateKey, publicJwk, party, created}, or null when there is none. */
export async function loadKey() {
  const record = await withStore('readonly', (store) => store.get(RECORD));
  return usable(record) ? record : null;
}

/**
 * Stores the key and returns its record; with keep, a key already stored is kept instead and null
 * is returned. The check and the write are one transaction, so that a key another tab stores
 * meanwhile is never overwritten.
 */
async function storeKey(privateJwk, created, { keep = false } = {}) {
  const publicJwk = { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y };
  // Re-imported without extractable: from here on the browser signs with it but never hands it out.
  const privateKey = await crypto.subtle.importKey('jwk', { ...publicJwk, d: privateJwk.d }, ALGORITHM, false, ['sign']);
  const record = { privateKey, publicJwk, party: await thumbprint(publicJwk), created };
  const stored = await withStore('readwrite', (store) => {
    const read = store.get(RECORD);
    read.onsuccess = () => {
      if (!(keep && usable(read.result))) {
        store.put(record, RECORD);
      }
    };
    return read;
  });
  return keep && usable(stored) ? null : record;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the party id. */
export async function thumbprint(publicJwk) {
  const canonical = `{"crv":"${publicJwk.crv}","kty":"${publicJwk.kty}","x":"${publicJwk.x}","y":"${publicJwk.y}"}`;
  return base64url(await crypto.subtle.digest('SHA-256', utf8(canonical)));
}

/**
 * Makes and stores a new key; returns {record, privateJwk} (privateJwk only for the backup), or
 * null when this browser already keeps a key (made in another tab since this page loaded, say):
 * that key is never replaced, since without its backup its claims could never be revoked.
 */
export async function createKey() {
  const pair = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const privateJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d };
  const record = await storeKey(privateJwk, new Date().toISOString(), { keep: true });
  return record ? { record, privateJwk } : null;
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

/**
 * The canonical JSON of a backup's header (everything but the ciphertext), with a fixed field
 * order: from version 2 on it is AES-GCM's additional data, so a changed header fails to open.
 */
export function backupHeaderJson(backup) {
  const jwk = backup.publicJwk || {};
  return JSON.stringify({
    format: backup.format,
    version: backup.version,
    kdf: { name: backup.kdf.name, hash: backup.kdf.hash, iterations: backup.kdf.iterations, salt: backup.kdf.salt },
    cipher: { name: backup.cipher.name, iv: backup.cipher.iv },
    party: backup.party,
    publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
  });
}

/** The backup file's object: the private JWK encrypted with AES-GCM under a PBKDF2 key. */
export async function makeBackup(record, privateJwk, passphrase) {
  const salt = crypto.getRandomValues(new Uint8Array(MIN_SALT_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await backupKey(passphrase, salt, PBKDF2_ITERATIONS);
  const header = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: PBKDF2_ITERATIONS, salt: base64url(salt) },
    cipher: { name: 'AES-GCM', iv: base64url(iv) },
    party: record.party,
    publicJwk: { kty: record.publicJwk.kty, crv: record.publicJwk.crv, x: record.publicJwk.x, y: record.publicJwk.y },
  };
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: utf8(backupHeaderJson(header)) }, key, utf8(JSON.stringify(privateJwk)));
  return { ...header, ciphertext: base64url(ciphertext) };
}

/**
 * Opens a backup and stores its key in this browser; returns {record, privateJwk}, or null when
 * another party's key is stored here and confirmReplace(storedParty, backupParty) declines to replace it.
 */
export async function restoreBackup(backup, passphrase, { confirmReplace } = {}) {
  if (!backup || backup.format !== BACKUP_FORMAT || (backup.version !== 1 && backup.version !== 2)
      || !backup.kdf || !backup.cipher
      || backup.kdf.name !== 'PBKDF2' || backup.kdf.hash !== 'SHA-256' || backup.cipher.name !== 'AES-GCM'
      || typeof backup.ciphertext !== 'string') {
    throw new BackupError('format', 'This file is not a ConsentRegistry key backup.');
  }
  if (backup.version >= 2 && (typeof backup.party !== 'string' || !backup.publicJwk || typeof backup.publicJwk !== 'object')) {
    throw new BackupError('format', `${NOT_A_BACKUP}: it lacks the party or public key it belongs to.`);
  }
  const iterations = Number(backup.kdf.iterations);
  if (!Number.isInteger(iterations) || iterations < MIN_PBKDF2_ITERATIONS || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new BackupError('format',
      `${NOT_A_BACKUP}: its PBKDF2 iterations must be between ${MIN_PBKDF2_ITERATIONS} and ${MAX_PBKDF2_ITERATIONS}.`);
  }
  let salt;
  let iv;
  let ciphertext;
  try {
    salt = fromBase64url(backup.kdf.salt);
    iv = fromBase64url(backup.cipher.iv);
    ciphertext = fromBase64url(backup.ciphertext);
  } catch {
    throw new BackupError('format', `${NOT_A_BACKUP}: it is damaged (a field is not base64url).`);
  }
  if (salt.length < MIN_SALT_BYTES) {
    throw new BackupError('format', `${NOT_A_BACKUP}: its salt is shorter than ${MIN_SALT_BYTES} bytes.`);
  }
  if (iv.length !== IV_BYTES) {
    throw new BackupError('format', `${NOT_A_BACKUP}: its AES-GCM IV is not ${IV_BYTES} bytes.`);
  }
  // Version 1 backups were written without additional data; from version 2 the header is authenticated.
  const parameters = backup.version >= 2
    ? { name: 'AES-GCM', iv, additionalData: utf8(backupHeaderJson(backup)) }
    : { name: 'AES-GCM', iv };
  let plaintext;
  try {
    const key = await backupKey(passphrase, salt, iterations);
    plaintext = await crypto.subtle.decrypt(parameters, key, ciphertext);
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
  // Another party's key stored here would be lost for good: only its own backup brings it back.
  const stored = await loadKey();
  if (stored && stored.party !== party && confirmReplace && !(await confirmReplace(stored.party, party))) {
    return null;
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
