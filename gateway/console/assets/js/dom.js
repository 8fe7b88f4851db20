// Building the page from data: every value becomes a text node or an attribute, never markup.

/** An element with attributes (`on*` keys become listeners) and children (strings become text nodes). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `element` shows. */
export function show(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A labelled form field: `<label for=id>` and the control. */
export function field(text, control, hint) {
  return [h('label', { for: control.id }, text), control, hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null];
}

/** An API error (or any error) as the page shows it: the API's own message, announced to screen readers. */
export function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, error && error.message ? error.message : String(error));
}

/** A JSON value pretty-printed in a `<pre>`. */
export function json(value) {
  return h('pre', {}, value === undefined ? '' : JSON.stringify(value, null, 2));
}

/** A description list from [term, value] pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

/** A table from headers and rows of cells; `optional` header indexes hide on phones. */
export function table(caption, headers, rows, optional = []) {
  const cls = (i) => (optional.includes(i) ? 'optional' : undefined);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'hint' }, caption),
    h('thead', {}, h('tr', {}, headers.map((text, i) => h('th', { scope: 'col', class: cls(i) }, text)))),
    h('tbody', {}, rows.length ? rows.map((row) => h('tr', {}, row.map((cell, i) => h('td', { class: cls(i) }, cell))))
      : h('tr', {}, h('td', { colspan: headers.length }, 'None yet.')))));
}

/**
 * A form with one JSON object field (`{}` to start) and a button: `submit(value, outcome)` runs with the
 * parsed object while the button is disabled; an error it throws is shown in `outcome` (`#<id>-outcome`).
 */
export function jsonForm({ id, title, what, hint, button, submit }) {
  const input = h('textarea', { id: `${id}-json`, rows: 5, spellcheck: 'false', 'aria-describedby': `${id}-json-hint` });
  input.value = '{}';
  const outcome = h('div', { id: `${id}-outcome`, 'aria-live': 'polite' });
  const go = h('button', { type: 'submit' }, button);
  const form = h('form', { 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    field(`${what} (JSON object)`, input, hint),
    h('div', { class: 'actions-bar' }, go), outcome);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    go.disabled = true;
    try {
      await submit(parseObject(input.value, what), outcome);
    } catch (error) {
      show(outcome, errorBox(error));
    } finally {
      go.disabled = false;
    }
  });
  return form;
}

/** Milliseconds since the epoch as local date and time. */
export function when(ms) {
  return typeof ms === 'number' ? new Date(ms).toLocaleString() : '';
}

/** Parses a JSON object typed by the user, naming the field when it is not one. */
export function parseObject(text, what) {
  const trimmed = text.trim();
  if (!trimmed) return {};
  let value;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${error.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} must be a JSON object, like {"name": "value"}`);
  }
  return value;
}

/** An annotation's value from an entity's or a record's `annotations` list. */
export function annotation(entity, key) {
  const found = (entity.annotations || []).find((a) => a.key === key);
  return found ? found.value : undefined;
}
