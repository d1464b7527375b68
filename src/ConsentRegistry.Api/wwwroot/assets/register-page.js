// "Register works": build the claim from the form, sign it here, submit it, show the receipt.
import { bareHost, callApi, callApiRetrying, el, problemLines, showMessage } from './app.js';
import { loadKey, now, signJws } from './signing-key.js';

const CATEGORIES = ['tdm', 'train-ai', 'train-genai', 'ai-use', 'search'];
const ANSWERS = { allow: 'allow', disallow: 'disallow', unknown: 'unknown' };

const form = document.getElementById('register-form');
const noKey = document.getElementById('no-key');
const submit = document.getElementById('submit-claim');
const progress = document.getElementById('register-progress');
const status = document.getElementById('register-status');
const receipt = document.getElementById('receipt');

const field = (id) => document.getElementById(id);

class FormError extends Error {}

/** Below this quality (0 to 100, as POST /v1/images gives it) a PDQ hash is unreliable for matching. */
const MIN_PDQ_QUALITY = 50;

/** What a 401 from /v1/images or /v1/lookup means: the operator turned anonymous lookups off. */
const LOOKUP_NEEDS_KEY = 'This registry requires an API key for image hashing and lookups; ask its operator.';

function subjectsFromFields() {
  const subjects = [];
  for (const line of field('urls').value.split(/\r?\n/)) {
    const url = line.trim();
    if (url) {
      subjects.push({ kind: 'url', value: url });
    }
  }
  const prefix = field('prefix').value.trim();
  if (prefix) {
    subjects.push({ kind: 'url-prefix', value: prefix });
  }
  // People paste addresses; the registry wants the bare host name, as the Verify page does
  // (checkSiteField refuses a path before anything is signed).
  const site = bareHost(field('site').value);
  if (site) {
    subjects.push({ kind: 'host', value: site, include_subdomains: field('include-subdomains').checked });
  }
  return subjects;
}

/** A path in the Site field would have the whole site claimed where a folder was meant: refused, pointing to the Folder field. */
function checkSiteField() {
  const typed = field('site').value.trim();
  const path = pathOf(typed);
  if (path) {
    // The folder keeps the scheme and port typed (a pasted address may have both).
    const origin = typed.includes('://') ? new URL(typed).origin : `https://${typed.split('/')[0].toLowerCase()}`;
    throw new FormError(`“${typed}” names a folder (${path}), and “Your whole site” claims every address on ${bareHost(typed)}. `
      + `For that folder only, clear this field and use “A folder of your site”: ${origin}${path.endsWith('/') ? path : `${path}/`}`);
  }
}

/** The path typed after a host name ("artist.example/portfolio" → "/portfolio"), or "" when there is none beyond "/". */
function pathOf(typed) {
  let path = '';
  try {
    path = typed.includes('://') ? new URL(typed).pathname : (/^[^/]*(\/.*)$/.exec(typed) || [])[1] || '';
  } catch {
    return ''; // not an address: the registry names what is wrong with it
  }
  return path === '/' ? '' : path;
}

/**
 * Under the Folder field: a prefix whose path does not end with "/" covers every address that starts
 * with it, other folders and files of the same beginning included (…/art covers …/artwork-of-others/).
 */
function updatePrefixNote() {
  const note = field('prefix-note');
  let text = '';
  try {
    const prefix = field('prefix').value.trim();
    const url = prefix ? new URL(prefix) : null;
    if (url && !url.pathname.endsWith('/') && !url.search) {
      text = `Every address that starts with “${prefix}” counts, such as ${prefix}-other/… or ${prefix}.html, not only that folder. `
        + `End it with “/” (${prefix}/) for the folder alone.`;
    }
  } catch {
    // not an address yet: the registry names what is wrong with it
  }
  note.textContent = text;
  note.hidden = text === '';
}

/** The name of the file each image subject came from, for messages about it (a vector or hash says nothing to the artist). */
const fileOfSubject = new WeakMap();

/**
 * The image types POST /v1/images reads (src/ConsentRegistry.Imaging/ImageFormats.cs), as the file
 * field's accept attribute lists them, and the largest file it takes (ImageLimits.MaxBytes). A larger
 * upload is refused with a 413 that the page may never read, when the server closes the connection
 * while the browser is still sending.
 */
const IMAGE_TYPES = field('files').accept.split(',');
const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

/** Why the registry would refuse to hash the file, before it is sent; null when it may take it. */
function refusal(file) {
  // A type the browser cannot name (no or an unknown extension) is left to the registry, which reads the file's first bytes.
  if (file.type && !IMAGE_TYPES.includes(file.type)) {
    const names = IMAGE_TYPES.map((type) => type.replace('image/', '').toUpperCase());
    return `it is ${file.type}, and the registry reads only ${names.slice(0, -1).join(', ')} and ${names.at(-1)} images. `
      + 'Save it in one of those formats, or leave it out.';
  }
  if (file.size > MAX_IMAGE_BYTES) {
    return `it is larger than ${MAX_IMAGE_BYTES / (1024 * 1024)} MiB, the most the registry takes. Save a smaller copy, or leave it out.`;
  }
  return null;
}

/**
 * What POST /v1/images answered for each file hashed since the page was opened, so that registering
 * again after one file (or the claim) was refused does not send the others again. Choosing the files
 * again gives new File objects: they are known by name, size and modification time.
 */
const hashes = new Map();
const fileKey = (file) => `${file.name}\u0000${file.size}\u0000${file.lastModified}`;

/** Hashes the file, or says why it could not be hashed (lines for the page's error). */
async function hashFile(file, index, count) {
  const hashing = `Hashing image ${index + 1} of ${count}: ${file.name}…`;
  showMessage(progress, hashing);
  const body = new FormData();
  body.append('file', file, file.name);
  const result = await callApiRetrying('POST', '/v1/images', { body },
    (seconds) => showMessage(progress, `${hashing} The registry is busy; trying again in ${Math.ceil(seconds)} s.`));
  if (result.status === 401) {
    // Every file would meet the same answer: the artist learns it once, at once.
    throw new FormError(`The image ${file.name} could not be hashed.\n${LOOKUP_NEEDS_KEY}`);
  }
  if (!result.ok) {
    return { failure: [`The image ${file.name} could not be hashed.`, ...problemLines(result)] };
  }
  if (!result.data || typeof result.data.sha256 !== 'string') {
    return { failure: [`The image ${file.name} could not be hashed: the registry's answer holds no hash.`] };
  }
  return { data: result.data };
}

/** The subjects that name one hashed file; notes receives what the artist should know about it. */
function fileSubjects(file, data, notes) {
  const subjects = [];
  const add = (subject) => {
    subjects.push(subject);
    fileOfSubject.set(subject, file.name);
  };
  add({ kind: 'sha256', value: data.sha256 });
  const quality = Number(data.quality);
  if (!(quality >= MIN_PDQ_QUALITY)) {
    // A poor-quality perceptual hash would match unrelated pictures: only the exact file is claimed.
    notes.push(`The image ${file.name} has too little detail for a perceptual hash (quality ${data.quality} of 100, `
      + `${MIN_PDQ_QUALITY} needed): only its exact file (SHA-256) is registered, so changed copies of it will not match.`);
    return subjects;
  }
  // One perceptual hash per distinct rotation or mirror image, so that turned copies match too.
  const seen = new Set();
  for (const pdq of [data.pdq, ...(data.pdq_dihedral || [])]) {
    if (pdq && !seen.has(pdq)) {
      seen.add(pdq);
      add({ kind: 'pdq', value: pdq });
    }
  }
  // The image's vectors find copies that hashes miss (crops, borders); same rule for detail.
  for (const embedding of data.embeddings || []) {
    if (embedding && typeof embedding.model === 'string' && typeof embedding.value === 'string') {
      add({ kind: 'embedding', model: embedding.model, value: embedding.value });
    }
  }
  return subjects;
}

/**
 * The subjects of the chosen image files; notes receives what the artist should know about them.
 * Files the registry would refuse are named before any is sent; a file it refuses is named after
 * the others are hashed, whose hashes are kept for the next try.
 */
async function subjectsFromFiles(files, notes) {
  const refused = files.flatMap((file) => {
    const why = refusal(file);
    return why ? [`The image ${file.name} cannot be hashed: ${why}`] : [];
  });
  if (refused.length > 0) {
    throw new FormError(refused.join('\n'));
  }
  const subjects = [];
  const failures = [];
  let failed = 0;
  for (const [index, file] of files.entries()) {
    let data = hashes.get(fileKey(file));
    if (!data) {
      const hashed = await hashFile(file, index, files.length);
      if (hashed.failure) {
        failures.push(...hashed.failure);
        failed += 1;
        continue;
      }
      data = hashed.data;
      hashes.set(fileKey(file), data);
    }
    subjects.push(...fileSubjects(file, data, notes));
  }
  if (failed > 0) {
    const done = files.length - failed;
    if (done > 0) {
      failures.push(`Nothing was registered. The other image${done === 1 ? ' is' : 's are'} hashed and not sent again: `
        + `replace or leave out the file${failed === 1 ? '' : 's'} named above and register again.`);
    }
    throw new FormError(failures.join('\n'));
  }
  return subjects;
}

const FILE_KINDS = new Set(['sha256', 'pdq', 'embedding']);

function namesPort(address) {
  try {
    return new URL(address).port !== ''; // empty for the scheme's default port, which the registry drops too
  } catch {
    return false;
  }
}

/**
 * Why verifying a website can never raise a claim with these subjects to trust "domain", so that
 * its "Yes" answers never count: the registry vouches only for addresses on the verified host
 * itself (src/ConsentRegistry.Api/Verification/DomainScope.cs). Each reason comes with what to
 * leave out of a claim whose "Yes" should count. Empty when verification can raise the claim.
 */
function whyYesNeverCounts(subjects, withFiles = false) {
  const reasons = [];
  if (withFiles || subjects.some((s) => FILE_KINDS.has(s.kind))) {
    reasons.push({
      why: 'this claim includes image files, and a file can be copied anywhere, so owning a website does not prove you made it',
      fix: 'without image files',
    });
  }
  const wide = subjects.find((s) => s.kind === 'host' && s.include_subdomains);
  if (wide) {
    reasons.push({
      why: `this claim covers the subdomains of ${wide.value}, and verifying ${wide.value} does not show that they are yours`,
      fix: 'without “and its subdomains”',
    });
  }
  const ported = subjects.find((s) => (s.kind === 'url' || s.kind === 'url-prefix') && namesPort(s.value));
  if (ported) {
    reasons.push({
      why: `the address ${ported.value} names a port, which may be another server than the one that publishes your verification file`,
      fix: 'at addresses without a port',
    });
  }
  return reasons;
}

/** The sentences that say a claim's "Yes" answers will never count, and how to register one that does. */
function neverCountsText(reasons, lead) {
  return `${lead}, not even once your website is verified: ${reasons.map((r) => r.why).join('; ')}. `
    + '“No” answers count as usual. For a “Yes” that counts, register your image URLs, folder or site '
    + `in a claim of their own, ${reasons.map((r) => r.fix).join(', ')}.`;
}

/** Before signing: says so when the "Yes" answers chosen cannot count with the works chosen. */
function updateYesWarning() {
  const warning = field('yes-warning');
  const grants = Object.values(usageFromFields()).includes('y');
  const reasons = grants ? whyYesNeverCounts(subjectsFromFields(), (field('files').files || []).length > 0) : [];
  warning.textContent = reasons.length > 0 ? neverCountsText(reasons, 'Your “Yes” answers will not count') : '';
  warning.hidden = reasons.length === 0;
  // Read out with the button, so that nobody signs without hearing it.
  if (reasons.length > 0) {
    submit.setAttribute('aria-describedby', 'yes-warning');
  } else {
    submit.removeAttribute('aria-describedby');
  }
}

function usageFromFields() {
  const usage = {};
  for (const category of CATEGORIES) {
    const value = field(`use-${category}`).value;
    if (value === 'y' || value === 'n') {
      usage[category] = value;
    }
  }
  return usage;
}

function termsFromFields() {
  const terms = {};
  const license = field('license').value.trim();
  let contact = field('contact').value.trim();
  if (license) {
    terms.license = license;
  }
  if (contact) {
    if (/^[^\s:/@]+@[^\s@]+$/.test(contact)) {
      contact = `mailto:${contact}`;
    }
    terms.contact = contact;
  }
  return terms;
}

/**
 * The claim the form describes. Every field is read before the first file is hashed (which may take
 * minutes), and the form's controls stay disabled until the claim is answered: what is signed is
 * what the artist saw when pressing the button.
 */
async function buildPayload(notes) {
  const usage = usageFromFields();
  if (Object.keys(usage).length === 0) {
    throw new FormError('Choose “Yes” or “No” for at least one use.');
  }
  checkSiteField();
  const fieldSubjects = subjectsFromFields();
  const files = Array.from(field('files').files || []);
  if (fieldSubjects.length === 0 && files.length === 0) {
    throw new FormError('Name at least one work: an image URL, a folder, your site, or an image file.');
  }
  const terms = termsFromFields();
  const title = field('title').value.trim();
  const subjects = [...fieldSubjects, ...(await subjectsFromFiles(files, notes))];
  const payload = { v: 1, iat: now(), subjects, usage };
  if (Object.keys(terms).length > 0) {
    payload.terms = terms;
  }
  if (title) {
    payload.title = title;
  }
  return payload;
}

/**
 * The last claim sent without a definite answer (the connection failed, or the registry answered
 * 5xx): it may be stored. Registering the same works and answers again sends that very JWS, which the
 * registry stores at most once ("already registered" when the first try was stored), rather than a
 * claim signed anew, whose new iat would make it a second claim beside the first.
 */
let unanswered = null;

/** A claim's content apart from its time of signing. */
const contentOf = (payload) => JSON.stringify({ ...payload, iat: 0 });

/** Disables the form's enabled controls; the function returned enables them again. */
function freezeForm() {
  const enabled = Array.from(form.elements).filter((control) => !control.disabled);
  for (const control of enabled) {
    control.disabled = true;
  }
  return () => {
    for (const control of enabled) {
      control.disabled = false;
    }
  };
}

/** What to look up to show the claim working: its first URL (or folder, or site) and first file. */
function lookupItems(subjects) {
  const items = [];
  const url = subjects.find((s) => s.kind === 'url')
    || subjects.find((s) => s.kind === 'url-prefix')
    || subjects.find((s) => s.kind === 'host');
  if (url) {
    items.push({ label: url.value, item: { url: url.kind === 'host' ? `https://${url.value}/` : url.value } });
  }
  const sha = subjects.find((s) => s.kind === 'sha256');
  if (sha) {
    items.push({ label: `image file ${sha.value}`, item: { sha256: sha.value } });
  }
  return items;
}

function describeDecision(result) {
  if (!result || result.error) {
    return result && result.error ? `not checked: ${result.error.detail}` : 'no answer';
  }
  const parts = CATEGORIES
    .filter((c) => result.decision && result.decision[c] && result.decision[c] !== 'unknown')
    .map((c) => `${c}: ${ANSWERS[result.decision[c]] || result.decision[c]}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing decided (every use unknown)';
}

async function showLookup(claim) {
  const list = field('receipt-lookup');
  const items = lookupItems(claim.subjects);
  if (items.length === 0) {
    list.replaceChildren(el('li', 'Nothing to look up.'));
    return;
  }
  let result;
  // The matching index follows the log closely; wait briefly until it reflects this claim.
  for (let attempt = 0; attempt < 10; attempt++) {
    result = await callApi('POST', '/v1/lookup', {
      body: JSON.stringify({ items: items.map((i) => i.item) }),
      contentType: 'application/json',
    });
    if (!result.ok || (result.data && result.data.seq >= claim.seq)) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  if (result.status === 401) {
    list.replaceChildren(el('li', LOOKUP_NEEDS_KEY));
    return;
  }
  if (!result.ok || !result.data || !Array.isArray(result.data.results)) {
    list.replaceChildren(el('li', `The lookup failed: ${problemLines(result).join(' ')}`));
    return;
  }
  const lines = items.map((item, i) => el('li', `${item.label} → ${describeDecision(result.data.results[i])}`));
  if (!(result.data.seq >= claim.seq)) {
    lines.push(el('li', 'The index has not caught up yet; look again in a moment.'));
  }
  list.replaceChildren(...lines);
}

function showReceipt(claim, payload) {
  field('receipt-id').textContent = claim.id;
  field('receipt-seq').textContent = String(claim.seq);
  field('receipt-trust').textContent = claim.trust;
  field('receipt-lookup').replaceChildren(el('li', 'Looking up…'));
  const pending = Object.values(payload.usage).includes('y') && claim.trust === 'signed';
  const reasons = whyYesNeverCounts(payload.subjects);
  field('receipt-note').hidden = !(pending && reasons.length === 0);
  const never = field('receipt-note-never');
  never.textContent = pending && reasons.length > 0 ? neverCountsText(reasons, 'Your “Yes” answers are recorded but will not count') : '';
  never.hidden = !(pending && reasons.length > 0);
  receipt.hidden = false;
  receipt.focus();
}

const LABELS = {
  tdm: 'Text and data mining',
  'train-ai': 'Training AI models',
  'train-genai': 'Training generative AI',
  'ai-use': 'Use as AI input',
  search: 'Search engines',
};

/** Names a field of the claim the way the form shows it: "Image URL “…”" rather than "subjects[0].value". */
function fieldName(payload) {
  return (field) => {
    const subject = /^subjects\[(\d+)\]/.exec(field);
    if (subject && payload && payload.subjects[Number(subject[1])]) {
      const named = payload.subjects[Number(subject[1])];
      if (fileOfSubject.has(named)) {
        return `Image file “${fileOfSubject.get(named)}”`;
      }
      const name = { url: 'Image URL', 'url-prefix': 'Folder', host: 'Site' }[named.kind];
      return name ? `${name} “${named.value}”` : 'Image file';
    }
    const usage = /^usage\.(.+)$/.exec(field);
    if (usage && LABELS[usage[1]]) {
      return LABELS[usage[1]];
    }
    return { 'terms.license': 'Licence URL', 'terms.contact': 'Contact for permission', title: 'Title' }[field] || field;
  };
}

form.addEventListener('input', updateYesWarning);
form.addEventListener('change', updateYesWarning);
field('prefix').addEventListener('input', updatePrefixNote);

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  showMessage(status, []);
  showMessage(progress, []);
  receipt.hidden = true;
  let record;
  try {
    record = await loadKey();
  } catch (error) {
    showMessage(status, `This browser does not let the page read your signing key (IndexedDB: ${error.message}). Private browsing modes often block it.`, 'error');
    return;
  }
  if (!record) {
    showMessage(status, 'This browser has no signing key any more. Create or restore it on the “Your signing key” page.', 'error');
    return;
  }
  const thaw = freezeForm();
  let payload = null;
  const notes = [];
  try {
    payload = await buildPayload(notes);
    showMessage(progress, 'Signing and registering…');
    const again = unanswered && unanswered.party === record.party && unanswered.content === contentOf(payload) ? unanswered : null;
    if (again) {
      payload.iat = again.iat;
    }
    const jws = again ? again.jws : await signJws(record, payload);
    const result = await callApi('POST', '/v1/claims', { body: jws, contentType: 'application/jose' });
    unanswered = result.status === 0 || result.status >= 500
      ? { party: record.party, content: contentOf(payload), iat: payload.iat, jws }
      : null;
    if (!result.ok) {
      showMessage(progress, []);
      showMessage(status, problemLines(result, fieldName(payload)), 'error');
      return;
    }
    showMessage(progress, [result.status === 201 ? 'Registered.' : 'This exact claim was already registered.', ...notes], 'ok');
    showReceipt(result.data, payload);
    try {
      await showLookup(result.data);
    } catch (error) {
      // The claim is registered: a failed lookup is a note on the receipt, not an error under it.
      field('receipt-lookup').replaceChildren(el('li', `The lookup could not be shown: ${error.message}`));
    }
  } catch (error) {
    showMessage(progress, []);
    showMessage(status, error instanceof FormError ? error.message.split('\n') : `Something went wrong: ${error.message}`, 'error');
  } finally {
    thaw();
  }
});

try {
  const record = await loadKey();
  form.hidden = !record;
  noKey.hidden = Boolean(record);
  updateYesWarning(); // a browser may restore the fields of an earlier visit
  updatePrefixNote();
} catch (error) {
  // Not "you need a key": it may well be there, in storage this browser will not open to the page
  // (the form, and the messages inside it, stay hidden).
  noKey.textContent = `This browser does not let the page read your signing key (IndexedDB: ${error.message}). Private browsing modes often block it.`;
  noKey.hidden = false;
}
