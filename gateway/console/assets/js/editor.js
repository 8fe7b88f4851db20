// The code editor: CodeMirror 6 with JavaScript highlighting when set-up installed it, else a plain textarea.

import { h } from './dom.js';

let codemirror;  // a promise of CodeMirror's modules, or of null when they are not installed

function loadCodeMirror() {
  codemirror ??= Promise.all([
    import('@codemirror/view'), import('@codemirror/state'), import('@codemirror/commands'),
    import('@codemirror/language'), import('@codemirror/lang-javascript'),
  ]).catch(() => null);
  return codemirror;
}

/**
 * An editor for `code` with the accessible name `label`: `{element, notice, value()}`.
 * `notice` is set when the page falls back to a textarea, saying why.
 */
export async function codeEditor(code, label) {
  const modules = await loadCodeMirror();
  if (!modules) {
    const area = h('textarea', { id: 'code', class: 'code', 'aria-label': label, spellcheck: 'false', rows: 16 });
    area.value = code;
    return {
      element: h('div', { class: 'editor', 'data-editor': 'textarea' }, area),
      notice: 'The code editor (CodeMirror) is not installed on this server, so code is edited as plain text; '
        + 'run scripts/setup to install it.',
      value: () => area.value,
    };
  }
  const [view, state, commands, language, javascript] = modules;
  // In a shadow root CodeMirror's own styles are constructed style sheets, which the page's CSP allows; in the
  // document it would add a <style> element, which `style-src 'self'` refuses.
  const element = h('div', { class: 'editor', 'data-editor': 'codemirror' });
  const shadow = element.attachShadow({ mode: 'open' });
  const parent = h('div', { class: 'editor-host' });
  shadow.append(h('link', { rel: 'stylesheet', href: '/console/editor.css' }), parent);
  const editor = new view.EditorView({
    parent,
    root: shadow,
    state: state.EditorState.create({
      doc: code,
      extensions: [
        view.lineNumbers(), view.highlightActiveLine(), view.drawSelection(), commands.history(),
        language.indentOnInput(), language.bracketMatching(),
        language.syntaxHighlighting(language.defaultHighlightStyle, { fallback: true }),
        javascript.javascript(),
        view.keymap.of([...commands.defaultKeymap, ...commands.historyKeymap]),
        view.EditorView.contentAttributes.of({ 'aria-label': label, 'aria-multiline': 'true' }),
      ],
    }),
  });
  return { element, notice: null, value: () => editor.state.doc.toString() };
}
