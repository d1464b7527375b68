// "Verify your website": the file to publish, and the Verify button.
import { bareHost, callApi, messages, problemLines } from './app.js';
import { loadKey } from './signing-key.js';

const hostInput = document.getElementById('verify-host');
const wellKnown = document.getElementById('well-known');
const wellKnownUrl = document.getElementById('well-known-url');
const button = document.getElementById('verify-button');
const say = messages(document.getElementById('verify-result'), document.getElementById('verify-error'));
const noKey = document.getElementById('no-key');

let record = null;

const host = () => bareHost(hostInput.value);

function update() {
  const name = host();
  wellKnownUrl.textContent = `https://${name || '<your host>'}/.well-known/consent-registry.json`;
}

hostInput.addEventListener('input', update);

button.addEventListener('click', async () => {
  if (!record) {
    say('This browser has no signing key. Create or restore your key first.', 'error');
    return;
  }
  const name = host();
  if (!name) {
    say('Enter your website\'s host name, e.g. artist.example.', 'error');
    hostInput.focus();
    return;
  }
  button.disabled = true;
  say(`Fetching https://${name}/.well-known/consent-registry.json…`);
  try {
    const answer = await callApi('POST', `/v1/parties/${encodeURIComponent(record.party)}/domains/${encodeURIComponent(name)}/verify`);
    if (answer.ok) {
      const raised = answer.data.claims_raised;
      say(`Verified: ${answer.data.host} lists your key. ${raised} claim${raised === 1 ? '' : 's'} raised to trust “domain”.`, 'ok');
    } else {
      say(problemLines(answer, (field) => ({ host: 'Host name', party: 'Your key' }[field] || field)), 'error');
    }
  } catch (error) {
    say(`The website could not be verified: ${error.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});

try {
  record = await loadKey();
} catch {
  record = null;
}
noKey.hidden = Boolean(record);
wellKnown.textContent = JSON.stringify({ keys: [record ? record.party : '<your party id: create your key first>'] });
update();
