// Entity lists a page at a time: the API answers at most 200 entities a request, a namespace may hold more.

import { call, NS } from '../api.js';
import { errorBox, h, show, table } from '../dom.js';

export const PAGE = 100;

function counted(total, noun) {
  return `${total} ${noun}${total === 1 ? '' : 's'}`;
}

/**
 * Shows in `main` the heading `title`, the `before` elements, and the namespace's `collection` (`actions`,
 * `triggers`, `rules`, `packages`) a page of `PAGE` at a time, in the API's order; `row(entity)` makes a
 * table row, `headers` and `optional` as `table`. The total is the API's own count (`count=true`).
 */
export async function entityList(main, { title, collection, noun, headers, optional = [], row, before = [] }) {
  let skip = 0;
  const holder = h('div', { id: `${collection}-list` });
  const previous = h('button', { type: 'button', class: 'secondary', id: `${collection}-previous` }, '← Previous');
  const next = h('button', { type: 'button', class: 'secondary', id: `${collection}-next` }, 'Next →');
  const page = h('span', { class: 'hint', id: `${collection}-page` });
  const pager = h('div', { class: 'actions-bar', hidden: true }, previous, page, next);
  const error = h('div');

  async function load() {
    const [{ body: count }, { body: entities }] = await Promise.all([
      call('GET', `${NS}/${collection}`, { query: { count: true } }),
      call('GET', `${NS}/${collection}`, { query: { limit: PAGE, skip } }),
    ]);
    const total = Math.max(Number(count && count[collection]) || 0, skip + entities.length);
    const caption = total > entities.length
      ? `${counted(total, noun)}; ${skip + 1}–${skip + entities.length} shown` : counted(total, noun);
    show(holder, table(caption, headers, entities.map(row), optional));
    pager.hidden = total <= PAGE && skip === 0;
    previous.disabled = skip === 0;
    next.disabled = skip + entities.length >= total;
    page.textContent = `Page ${Math.floor(skip / PAGE) + 1} of ${Math.max(1, Math.ceil(total / PAGE))}`;
  }

  async function turn(to) {
    const from = skip;
    skip = to;
    try {
      await load();
      show(error);
    } catch (failure) {
      skip = from;
      show(error, errorBox(failure));
    }
  }

  previous.addEventListener('click', () => turn(Math.max(0, skip - PAGE)));
  next.addEventListener('click', () => turn(skip + PAGE));
  await load();
  show(main, h('h1', {}, title), ...before, error, holder, pager);
}
