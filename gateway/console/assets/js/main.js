// The console's shell: sign in and out, the navigation, and which view the location's hash shows.

import { ApiError, call, NS, session } from './api.js';
import { errorBox, field, h, show } from './dom.js';
import { actionDetail, actionList, newAction } from './views/actions.js';
import { activationDetail, activationList } from './views/activations.js';
import { packageDetail, packageList, routeList } from './views/packages.js';
import { ruleDetail, ruleList, triggerDetail, triggerList } from './views/events.js';
import { liveView } from './views/live.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

/** `#/collection/name...` patterns and the view each one shows. */
const VIEWS = [
  [/^#\/actions$/, actionList, 'actions'],
  [/^#\/actions\/new$/, newAction, 'actions'],
  [/^#\/actions\/(.+)$/, actionDetail, 'actions'],
  [/^#\/activations(?:\?.*)?$/, activationList, 'activations'],
  [/^#\/activations\/([0-9a-f]+)$/, activationDetail, 'activations'],
  [/^#\/triggers$/, triggerList, 'triggers'],
  [/^#\/triggers\/(.+)$/, triggerDetail, 'triggers'],
  [/^#\/rules$/, ruleList, 'rules'],
  [/^#\/rules\/(.+)$/, ruleDetail, 'rules'],
  [/^#\/packages$/, packageList, 'packages'],
  [/^#\/packages\/(.+)$/, packageDetail, 'packages'],
  [/^#\/routes$/, routeList, 'routes'],
  [/^#\/live$/, liveView, 'live'],
];

let stopView = null;  // what the current view must stop (its timers) when another one replaces it
let generation = 0;

async function route() {
  if (stopView) stopView();
  stopView = null;
  const mine = ++generation;
  if (!session.key) {
    signInView();
    return;
  }
  signedIn(true);
  const hash = location.hash || '#/actions';
  const found = VIEWS.find(([pattern]) => pattern.test(hash)) || VIEWS[0];
  const [pattern, view, section] = found;
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#/${section}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const args = (hash.match(pattern) || []).slice(1).map(decodeURIComponent);
  show(main, h('p', { class: 'hint' }, 'Loading…'));
  try {
    const stop = await view(main, ...args);
    if (mine === generation) stopView = typeof stop === 'function' ? stop : null;
    else if (typeof stop === 'function') stop();
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof ApiError && error.status === 401) {
      session.signOut();
      signInView(error);
      return;
    }
    show(main, h('h1', {}, 'Something went wrong'), errorBox(error));
  }
}

function signedIn(yes) {
  nav.hidden = !yes;
  who.hidden = !yes;
}

function signInView(error) {
  signedIn(false);
  document.getElementById('namespace').textContent = '';
  const key = h('input', {
    type: 'password', id: 'key', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false',
    'aria-describedby': 'key-hint',
  });
  const message = h('div', { id: 'sign-in-error' }, error ? errorBox(error) : null);
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    field('Namespace key (uuid:key)', key, 'The AUTH value of your .wskprops. It is kept in this browser tab only, and cleared when you sign out.'),
    h('div', { class: 'actions-bar' }, button),
    message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    show(message);
    const typed = key.value.trim();
    try {
      await call('GET', `${NS}/actions`, { key: typed, query: { limit: 1 } });
      session.signIn(typed);
      key.value = '';
      showNamespace();
      if (!location.hash || location.hash === '#/') {
        location.hash = '#/actions';  // the hashchange shows it
      } else {
        await route();
        main.focus();
      }
    } catch (failure) {
      show(message, errorBox(failure));
      key.focus();
    } finally {
      button.disabled = false;
    }
  });
  show(main, form);
  key.focus();
}

async function showNamespace() {
  try {
    const { body } = await call('GET', '/api/v1/namespaces');
    document.getElementById('namespace').textContent = Array.isArray(body) ? body.join(', ') : '';
  } catch {
    document.getElementById('namespace').textContent = '';
  }
}

// The skip link moves focus without touching the hash, which names the view.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
document.getElementById('sign-out').addEventListener('click', () => {
  session.signOut();
  history.replaceState(null, '', location.pathname);
  route();
});
window.addEventListener('hashchange', () => {
  // A new view takes the focus to its content once shown, unless the user already moved into it meanwhile.
  route().then(() => {
    if (!main.contains(document.activeElement)) {
      main.focus({ preventScroll: true });
    }
  });
  if (session.key) showNamespace();
});
if (session.key) showNamespace();
route();
