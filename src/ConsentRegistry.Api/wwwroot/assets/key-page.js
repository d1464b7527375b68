// "Your signing key": create the key, download its encrypted backup, restore a backup.
import { messages } from './app.js';
import {
  BACKUP_FILE_NAME, BackupError, MAX_BACKUP_BYTES, MIN_PASSPHRASE_LENGTH, createKey, loadKey, makeBackup, restoreBackup,
} from './signing-key.js';

const partyId = document.getElementById('party-id');
const say = messages(document.getElementById('key-status'), document.getElementById('key-error'));
const createButton = document.getElementById('create-key');
const noKeyText = document.getElementById('no-key-text');
const backupPassphrase = document.getElementById('backup-passphrase');
const backupPassphraseAgain = document.getElementById('backup-passphrase-again');
const exportButton = document.getElementById('export-backup');
const importFile = document.getElementById('import-file');
const importPassphrase = document.getElementById('import-passphrase');
const importButton = document.getElementById('import-backup');

let current = null;
// The exportable private key, kept only while this page is open (right after creation or restore).
let exportable = null;

function show(record) {
  current = record;
  partyId.textContent = record ? record.party : '';
  createButton.hidden = Boolean(record);
  noKeyText.hidden = Boolean(record);
}

async function busy(button, action) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    await action();
  } catch (error) {
    say(`Something went wrong: ${error.message}`, 'error');
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

createButton.addEventListener('click', () => busy(createButton, async () => {
  try {
    const created = await createKey();
    if (!created) {
      show(await loadKey());
      say([
        'This browser already has a signing key, made in another tab or window: it is shown above, and nothing was replaced.',
        'Download its backup in the tab where it was made, while that tab is open.',
      ], 'info');
      return;
    }
    const { record, privateJwk } = created;
    exportable = privateJwk;
    show(record);
    say([
      'Key created. Your party id is shown above.',
      'Download your backup now: later the browser keeps your key locked and cannot export it.',
    ], 'ok');
    backupPassphrase.focus();
  } catch (error) {
    say(`The key could not be created: ${error.message}`, 'error');
  }
}));

exportButton.addEventListener('click', () => busy(exportButton, async () => {
  if (!current) {
    say('There is no key to back up yet. Create your signing key first.', 'error');
    return;
  }
  if (!exportable) {
    say('This browser keeps your key locked, so it cannot be exported now. A backup can be downloaded right after you create or restore a key; if you have none, keep using this browser, or create a new key and back it up.', 'error');
    return;
  }
  const passphrase = backupPassphrase.value;
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    say(`The backup passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters long.`, 'error');
    backupPassphrase.focus();
    return;
  }
  if (backupPassphraseAgain.value !== passphrase) {
    say('The two passphrases differ: type the same passphrase in both fields, so that the backup opens with the one you keep.', 'error');
    backupPassphraseAgain.focus();
    return;
  }
  say('Encrypting the backup…');
  const backup = await makeBackup(current, exportable, passphrase);
  const url = URL.createObjectURL(new Blob([JSON.stringify(backup, null, 2)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = BACKUP_FILE_NAME;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  say(`Backup downloaded as ${BACKUP_FILE_NAME}. Keep it, and its passphrase, somewhere safe.`, 'ok');
}));

importButton.addEventListener('click', () => busy(importButton, async () => {
  const file = importFile.files && importFile.files[0];
  if (!file) {
    say('Choose your backup file first.', 'error');
    importFile.focus();
    return;
  }
  if (!importPassphrase.value) {
    say('Enter the passphrase of the backup.', 'error');
    importPassphrase.focus();
    return;
  }
  if (file.size > MAX_BACKUP_BYTES) {
    // Not read at all: a backup is a few hundred bytes.
    say(`This is not a valid backup file: it is larger than ${MAX_BACKUP_BYTES / 1024} KB.`, 'error');
    return;
  }
  let backup;
  try {
    backup = JSON.parse(await file.text());
  } catch {
    say('This file is not a ConsentRegistry key backup.', 'error');
    return;
  }
  say('Opening the backup…');
  try {
    const restored = await restoreBackup(backup, importPassphrase.value, {
      confirmReplace: (storedParty) => window.confirm(
        `This replaces the key of party ${storedParty} in this browser. Without its backup you can no longer revoke its claims.`),
    });
    if (!restored) {
      say('Nothing restored: this browser keeps the key of the party shown above.', 'info');
      return;
    }
    const { record, privateJwk } = restored;
    exportable = privateJwk;
    show(record);
    importPassphrase.value = '';
    say('Key restored. This browser now signs as the party shown above.', 'ok');
  } catch (error) {
    const text = error instanceof BackupError ? error.message : `The backup could not be restored: ${error.message}`;
    say(text, 'error');
  }
}));

try {
  show(await loadKey());
} catch (error) {
  show(null);
  say(`This browser does not let the page keep a key (IndexedDB: ${error.message}). Private browsing modes often block it.`, 'error');
}
