/**
 * Values checked as they are typed: a timer, a due date, a condition, a script, a customer message.
 *
 * The server says whether one value works (POST config.urls.check_value, api/pages/modeler_panel.py,
 * engine/value_checks.py: the timer parser, the expression translation, the script sandbox, the
 * message templates), answering `<span data-valid="yes|no">text</span>`. Answers are kept per
 * (kind, value), so going back to a value asks nothing; a value is sent after 400 ms of quiet.
 * `Verdict` is a panel entry showing the answer for an element's current value, updated whenever
 * the panel renders the element again (after every change, whoever made it).
 */

import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect, useState } from '@bpmn-io/properties-panel/preact/hooks';
import { useService } from 'bpmn-js-properties-panel';

const answers = new Map();
const DELAY = 400;

function ask(config, kind, value) {
  const body = new FormData();
  body.append('csrf_token', config.csrf || '');
  body.append('kind', kind);
  body.append('value', value);
  return fetch(config.urls.check_value, { method: 'POST', body, credentials: 'same-origin' })
    .then((response) => response.text())
    .then((html) => {
      const holder = document.createElement('template');
      holder.innerHTML = html;
      const span = holder.content.querySelector('[data-valid]');
      return span ? { valid: span.getAttribute('data-valid') === 'yes', text: span.textContent.trim() } : null;
    })
    .catch(() => null);
}

/** The server's answer for `value` as a `kind` once it has come, else null (and it is asked for). */
export function useVerdict(config, kind, value) {
  const key = `${kind}\u0000${value}`;
  const [, setAnswered] = useState(0);
  useEffect(() => {
    if (!kind || answers.has(key) || !(config.urls && config.urls.check_value)) {
      return undefined;
    }
    let live = true;
    const timer = setTimeout(() => {
      ask(config, kind, value).then((answer) => {
        if (answer) {
          answers.set(key, answer);
        }
        if (live) {
          setAnswered((n) => n + 1);
        }
      });
    }, DELAY);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key]);
  return kind ? answers.get(key) || null : null;
}

/**
 * A panel entry: the verdict on the value `getValue(element)` returns as `getKind(element)`
 * (no kind: nothing to check). Empty values the kind allows say nothing.
 */
export function Verdict(props) {
  const { element, id, getValue, getKind } = props;
  const config = useService('config').carecenter || {};
  const kind = getKind(element);
  const value = kind ? getValue(element) || '' : '';
  const answer = useVerdict(config, kind, value);
  const texts = config.texts || {};
  let text = '';
  let state = 'pending';
  if (answer) {
    state = answer.valid ? 'ok' : 'problem';
    text = answer.valid ? texts.value_works || answer.text : answer.text;
  } else if (kind) {
    text = texts.value_checking || '…';
  }
  return h(
    'div',
    {
      class: `bio-properties-panel-entry cc-verdict cc-verdict-${state}`,
      'data-entry-id': id,
      'data-verdict': state,
      'data-kind': kind || '',
      role: 'status',
    },
    kind ? h('span', { class: 'cc-verdict-text' }, (answer ? (answer.valid ? '✓ ' : '✗ ') : '') + text) : null,
  );
}
