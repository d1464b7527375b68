// "My claims": the stored party's claims, and signed revocations.
import { callApi, callApiRetrying, el, forEachLimited, messages, problemLines } from './app.js';
import { loadKey, now, signJws } from './signing-key.js';

const table = document.getElementById('claims-table');
const body = table.querySelector('tbody');
const say = messages(document.getElementById('claims-status'), document.getElementById('claims-error'));
const noKey = document.getElementById('no-key');

async function fetchAllClaims(party) {
  const claims = [];
  let after = 0;
  for (;;) {
    // The titles of a long list are read a few at a time from the same per-address bucket: a reload may meet a 429.
    const result = await callApiRetrying('GET', `/v1/parties/${encodeURIComponent(party)}/claims?after=${after}&limit=500`);
    if (!result.ok) {
      throw new Error(problemLines(result).join(' '));
    }
    claims.push(...result.data.claims);
    if (result.data.next_after === null || result.data.next_after === undefined) {
      return claims;
    }
    after = result.data.next_after;
  }
}

/**
 * Claims without a title are named by their first subject, which only each claim's own page gives:
 * one request per claim, a few at a time, since the registry limits reads per address (its bucket
 * holds about a hundred) and answers 429 past that, which callApiRetrying waits out.
 */
const SUBJECT_REQUESTS_AT_ONCE = 4;

async function firstSubject(id) {
  const result = await callApiRetrying('GET', `/v1/claims/${encodeURIComponent(id)}`);
  const subject = result.ok && result.data && result.data.subjects && result.data.subjects[0];
  if (!subject) {
    return id;
  }
  return subject.kind === 'url' || subject.kind === 'url-prefix' || subject.kind === 'host'
    ? subject.value
    : `${subject.kind} ${subject.value}`;
}

function setRevoked(row) {
  row.querySelector('.claim-status').textContent = 'revoked';
  row.dataset.status = 'revoked';
  row.querySelector('.claim-action').replaceChildren();
}

async function revoke(row, claimId, record, button) {
  const name = row.querySelector('.claim-title').textContent;
  if (!window.confirm(`Revoke the claim “${name}”? This cannot be undone.`)) {
    return;
  }
  button.disabled = true;
  say('Signing the revocation…');
  try {
    const jws = await signJws(record, { v: 1, iat: now(), revokes: claimId });
    const result = await callApi('POST', `/v1/claims/${encodeURIComponent(claimId)}/revocation`, { body: jws, contentType: 'application/jose' });
    if (result.ok || (result.data && result.data.code === 'already-revoked')) {
      setRevoked(row);
      say(`Claim “${name}” revoked${result.data && result.data.seq ? ` (seq ${result.data.seq})` : ''}.`, 'ok');
      table.focus();
      return;
    }
    say(problemLines(result), 'error');
    button.disabled = false;
  } catch (error) {
    say(`The claim could not be revoked: ${error.message}`, 'error');
    button.disabled = false;
  }
}

function row(claim, record) {
  const tr = document.createElement('tr');
  tr.dataset.claimId = claim.id;
  tr.dataset.status = claim.revoked ? 'revoked' : 'active';
  const title = el('td', claim.title || claim.id, { class: 'claim-title wrap', id: `title-${claim.id}` });
  const action = el('td', null, { class: 'claim-action' });
  tr.append(
    title,
    el('td', claim.revoked ? 'revoked' : 'active', { class: 'claim-status' }),
    el('td', claim.trust, { class: 'claim-trust' }),
    el('td', claim.seq, { class: 'claim-seq' }),
    action);
  if (!claim.revoked) {
    // Named "Revoke" and the claim's title cell, so that a list of buttons read out (or a voice
    // command) tells the claims apart, and follows an untitled claim's name once it is known.
    const button = el('button', 'Revoke', {
      type: 'button', class: 'revoke', id: `revoke-${claim.id}`, 'aria-labelledby': `revoke-${claim.id} title-${claim.id}`,
    });
    button.addEventListener('click', () => revoke(tr, claim.id, record, button));
    action.append(button);
  }
  return tr;
}

async function load() {
  let record;
  try {
    record = await loadKey();
  } catch (error) {
    table.hidden = true;
    say(`This browser does not let the page read your signing key (IndexedDB: ${error.message}). Private browsing modes often block it.`, 'error');
    return;
  }
  if (!record) {
    noKey.hidden = false;
    table.hidden = true;
    return;
  }
  say('Loading your claims…');
  try {
    const claims = await fetchAllClaims(record.party);
    claims.sort((a, b) => b.seq - a.seq);
    const rows = claims.map((claim) => row(claim, record));
    body.replaceChildren(...rows);
    const untitled = rows.filter((_, i) => !claims[i].title);
    forEachLimited(untitled, SUBJECT_REQUESTS_AT_ONCE, async (tr) => {
      tr.querySelector('.claim-title').textContent = await firstSubject(tr.dataset.claimId);
    });
    say(claims.length === 0
      ? 'You have not registered any claims with this key yet.'
      : `${claims.length} claim${claims.length === 1 ? '' : 's'}.`);
  } catch (error) {
    say(`Your claims could not be loaded: ${error.message}`, 'error');
  }
}

table.tabIndex = -1;
await load();
