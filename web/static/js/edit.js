// The item editor for all four item types. New items POST /api/items; edits POST a new version
// to /api/items/<code>/versions. Refusals name a field path; the message appears next to it.

import {
  api, clearFieldErrors, clearMessages, h, initSelects, levelLabel, refreshKnowledgeSelect, say,
  seg, showError, showFieldError, t, warn,
} from './common.js';

const form = document.getElementById('item-form');
const CODE = form.dataset.code;
const LABELS = 'ABCDEFGH';
const RULES = ['trim', 'width', 'case', 'space'];
const DEFAULT_RULES = ['trim', 'width'];

const typeSelect = document.getElementById('type');
const stem = document.getElementById('stem');
const optionsBox = document.getElementById('options');
const optionsEnBox = document.getElementById('options-en');
const blanksBox = document.getElementById('blanks');
const blocks = {
  choice: document.getElementById('choice-block'),
  tf: document.getElementById('tf-block'),
  blank: document.getElementById('blank-block'),
};

const isChoice = (type) => type === 'single_choice' || type === 'multiple_choice';

function errorSlot(path, inputId) {
  return h('p', {
    class: 'field-error', hidden: true, id: `err-${path.replaceAll('.', '-')}`,
    dataset: { errorFor: path, input: inputId || '' },
  });
}

// -- options ------------------------------------------------------------------------------------

function readOptions() {
  return [...optionsBox.querySelectorAll('.option-row')].map((row) => ({
    text: row.querySelector('input[type="text"]').value,
    correct: row.querySelector('.key-input').checked,
  }));
}

function readOptionsEn() {
  return [...optionsEnBox.querySelectorAll('input')].map((input) => input.value);
}

function renderOptions(options, optionsEn = readOptionsEn()) {
  const single = typeSelect.value === 'single_choice';
  optionsBox.replaceChildren(...options.map((opt, i) => {
    const label = LABELS[i];
    const textId = `option-${i}`;
    const keyId = `option-key-${i}`;
    return h('div', { class: 'option-row' },
      h('label', { for: textId, class: 'option-label' },
        h('span', { 'aria-hidden': 'true' }, label),
        h('span', { class: 'visually-hidden' }, t('option_n', { label }))),
      h('input', { type: 'text', id: textId, value: opt.text }),
      h('label', { class: 'check', for: keyId },
        h('input', {
          type: single ? 'radio' : 'checkbox', name: 'key', id: keyId, class: 'key-input',
          value: label, checked: opt.correct, 'aria-label': t('correct_option', { label }),
        }),
        h('span', { 'aria-hidden': 'true' }, t('correct'))),
      errorSlot(`options.${i}.text`, textId),
      errorSlot(`options.${i}`, textId));
  }));
  optionsEnBox.replaceChildren(...options.map((opt, i) => {
    const label = LABELS[i];
    const id = `option-en-${i}`;
    return h('div', { class: 'field' },
      h('label', { for: id, lang: document.documentElement.lang }, t('option_en_n', { label })),
      h('input', { type: 'text', id, value: optionsEn[i] || '' }),
      errorSlot(`translations.en.options.${label}`, id));
  }));
  document.getElementById('add-option').disabled = options.length >= LABELS.length;
  document.getElementById('remove-option').disabled = options.length <= 2;
}

document.getElementById('add-option').addEventListener('click', () => {
  const options = readOptions();
  if (options.length < LABELS.length) {
    options.push({ text: '', correct: false });
    renderOptions(options);
    document.getElementById(`option-${options.length - 1}`).focus();
  }
});

document.getElementById('remove-option').addEventListener('click', () => {
  const options = readOptions();
  if (options.length > 2) renderOptions(options.slice(0, -1), readOptionsEn().slice(0, -1));
});

// -- blanks -------------------------------------------------------------------------------------

function readBlanks() {
  return [...blanksBox.querySelectorAll('.blank-row')].map((row) => ({
    accepted: row.querySelector('textarea').value,
    normalize: RULES.filter((rule) => row.querySelector(`input[value="${rule}"]`).checked),
  }));
}

function renderBlanks(blanks) {
  blanksBox.replaceChildren(...blanks.map((blank, i) => {
    const accId = `blank-${i}`;
    const n = i + 1;
    return h('fieldset', { class: 'blank-row' },
      h('legend', {}, t('blank_n', { n })),
      h('div', { class: 'field' },
        h('label', { for: accId }, t('accepted')),
        h('textarea', { id: accId, rows: 2, 'aria-describedby': `${accId}-hint` }, blank.accepted),
        h('p', { class: 'hint', id: `${accId}-hint` }, t('accepted_help')),
        errorSlot(`blanks.${i}.accepted`, accId)),
      h('fieldset', { class: 'plain rules' },
        h('legend', {}, t('rules')),
        RULES.map((rule) => h('label', { class: 'check' },
          h('input', { type: 'checkbox', value: rule, checked: blank.normalize.includes(rule) }),
          ` ${t(`normalize.${rule}`)}`))),
      errorSlot(`blanks.${i}`, accId));
  }));
  document.getElementById('remove-blank').disabled = blanks.length === 0;
  document.getElementById('add-blank').disabled = blanks.length >= 20;
}

function stemMarks() {
  return [...stem.value.matchAll(/\{\{(\d+)\}\}/g)].map((m) => Number(m[1]));
}

function syncBlanksToStem() {
  if (typeSelect.value !== 'fill_blank') return;
  const count = stemMarks().length;
  document.getElementById('stem-blanks').textContent = t('stem_blanks', { n: count });
  const blanks = readBlanks();
  if (count > blanks.length) {
    while (blanks.length < count) blanks.push({ accepted: '', normalize: DEFAULT_RULES });
    renderBlanks(blanks);
  }
}

document.getElementById('add-blank').addEventListener('click', () => {
  const blanks = readBlanks();
  blanks.push({ accepted: '', normalize: DEFAULT_RULES });
  renderBlanks(blanks);
  document.getElementById(`blank-${blanks.length - 1}`).focus();
});

document.getElementById('remove-blank').addEventListener('click', () => {
  renderBlanks(readBlanks().slice(0, -1));
});

stem.addEventListener('input', syncBlanksToStem);

// -- type switch --------------------------------------------------------------------------------

function showType() {
  const type = typeSelect.value;
  blocks.choice.hidden = !isChoice(type);
  blocks.tf.hidden = type !== 'true_false';
  blocks.blank.hidden = type !== 'fill_blank';
  optionsEnBox.hidden = !isChoice(type);
  document.getElementById('stem-blanks').hidden = type !== 'fill_blank';
  if (isChoice(type)) {
    let options = readOptions();
    if (options.length < 2) {
      options = [0, 1, 2, 3].map(() => ({ text: '', correct: false }));
    }
    if (type === 'single_choice' && options.filter((o) => o.correct).length > 1) {
      options = options.map((o) => ({ ...o, correct: false }));
    }
    renderOptions(options);
  }
  syncBlanksToStem();
}

typeSelect.addEventListener('change', showType);

// -- load and save ------------------------------------------------------------------------------

function fill(content) {
  typeSelect.value = content.type;
  stem.value = content.stem;
  const key = new Set(content.key || []);
  renderOptions((content.options || []).map((o) => ({ text: o.text, correct: key.has(o.label) })),
    (content.options || []).map((o) => ((content.translations || {}).en || {}).options?.[o.label] || ''));
  if (content.type === 'true_false') {
    document.getElementById(key.has('T') ? 'tf-true' : 'tf-false').checked = true;
  }
  renderBlanks((content.blanks || []).map((b) => ({ accepted: b.accepted.join('\n'), normalize: b.normalize })));
  document.getElementById('points').value = content.points;
  document.getElementById('difficulty').value = content.difficulty;
  document.getElementById('tags').value = (content.tags || []).join(', ');
  document.getElementById('title').value = content.title || '';
  document.getElementById('explanation').value = content.explanation || '';
  const en = (content.translations || {}).en || {};
  document.getElementById('stem-en').value = en.stem || '';
  document.getElementById('explanation-en').value = en.explanation || '';
  showType();
}

function collect() {
  const type = typeSelect.value;
  const content = {
    type,
    stem: stem.value,
    knowledge_point: document.getElementById('knowledge_point').value,
    explanation: document.getElementById('explanation').value,
    tags: document.getElementById('tags').value.split(/[,，、;；]/).map((s) => s.trim()).filter(Boolean),
  };
  const title = document.getElementById('title').value.trim();
  if (title) content.title = title;
  const points = document.getElementById('points').value.trim();
  if (points) content.points = points;
  const difficulty = document.getElementById('difficulty').value.trim();
  if (difficulty) content.difficulty = difficulty;
  const translation = {
    stem: document.getElementById('stem-en').value.trim(),
    explanation: document.getElementById('explanation-en').value.trim(),
  };
  if (isChoice(type)) {
    const options = readOptions();
    content.options = options.map((o, i) => ({ label: LABELS[i], text: o.text }));
    content.key = options.flatMap((o, i) => (o.correct ? [LABELS[i]] : []));
    const optionsEn = {};
    readOptionsEn().forEach((text, i) => {
      if (text.trim() && i < options.length) optionsEn[LABELS[i]] = text.trim();
    });
    if (Object.keys(optionsEn).length) translation.options = optionsEn;
  } else if (type === 'true_false') {
    const chosen = form.querySelector('input[name="tf"]:checked');
    content.key = chosen ? [chosen.value] : [];
  } else {
    content.blanks = readBlanks().map((b) => ({
      accepted: b.accepted.split('\n').map((s) => s.trim()).filter(Boolean),
      normalize: b.normalize,
    }));
  }
  if (translation.stem || translation.explanation || translation.options) {
    content.translations = { en: translation };
  }
  return content;
}

function showErrors(err) {
  clearFieldErrors(form);
  const problems = Array.isArray(err.details) && err.details.every((d) => d && d.field)
    ? err.details : [{ field: err.field, message: err.message }];
  let first = null;
  const unplaced = [];
  for (const problem of problems) {
    const target = problem.field
      ? showFieldError(form, problem.field, problem.message, { strip: ['content'] })
      : null;
    if (target) first = first || target;
    else unplaced.push(problem.message);
  }
  warn([t('fix_fields'), ...unplaced].join(' '));
  if (first) {
    if (first.focus && first.matches('input, select, textarea')) first.focus();
    else first.scrollIntoView({ block: 'center' });
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearMessages();
  clearFieldErrors(form);
  const note = document.getElementById('note').value;
  const content = collect();
  const save = document.getElementById('save');
  save.disabled = true;
  say(t('saving'));
  try {
    let code = CODE;
    if (CODE) {
      await api('POST', `/api/items/${seg(CODE)}/versions`, { json: { content, note } });
    } else {
      code = document.getElementById('code').value.trim();
      await api('POST', '/api/items', {
        json: {
          occupation: document.getElementById('occupation').value,
          level: Number(document.getElementById('level').value) || 0,
          code,
          content,
          note,
        },
      });
    }
    say(t('saved'));
    window.location.assign(`/bank/items/${seg(code)}`);
  } catch (err) {
    say('');
    if (err.status === 422 || err.status === 409 || err.status === 404) showErrors(err);
    else showError(err);
  } finally {
    save.disabled = false;
  }
});

(async () => {
  await initSelects(form);
  if (!CODE) {
    showType();
    return;
  }
  // The form is usable once the newest version and the knowledge table are in.
  const save = document.getElementById('save');
  save.disabled = true;
  say(t('loading'));
  try {
    const data = await api('GET', `/api/items/${seg(CODE)}`);
    const { item } = data;
    const kp = document.getElementById('knowledge_point');
    kp.dataset.value = data.latest.content.knowledge_point;
    document.getElementById('occupation').value = item.occupation;
    document.getElementById('level').value = String(item.level);
    document.getElementById('item-where').textContent = `${t('label.occupation')}: ${item.occupation}`
      + ` · ${t('label.level')}: ${levelLabel(item.level)} · ${t('version_n', { n: data.latest.version })}`;
    fill(data.latest.content);
    await refreshKnowledgeSelect(kp);
    save.disabled = false;
    say('');
  } catch (err) {
    showError(err);
  }
})();
