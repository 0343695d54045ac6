// The device page's calibration form: the current record of
// GET /api/calibration/{id} in six fields, saved with PUT. The API judges the
// values; its 400 answer ({"error": "..."}) names the field it refused
// (telemetry.Calibration.Validate, or the JSON decoder's "Go struct field
// calibrationBody.<name>"), and the message is shown next to that field.
import { putCalibration } from './api.js';
import { el } from './card.js';

/** CAL_FIELDS are the calibration record's fields, as the API names them. */
export const CAL_FIELDS = [
  { name: 'temperatureSlope', metric: 'Temperature', part: 'slope' },
  { name: 'temperatureYIntercept', metric: 'Temperature', part: 'intercept' },
  { name: 'humiditySlope', metric: 'Humidity', part: 'slope' },
  { name: 'humidityYIntercept', metric: 'Humidity', part: 'intercept' },
  { name: 'pressureSlope', metric: 'Pressure', part: 'slope' },
  { name: 'pressureYIntercept', metric: 'Pressure', part: 'intercept' },
];

// A JSON number: what the API's decoder reads. The text goes to the API as
// typed, so it, not the page, decides on values such as 1e999.
const jsonNumber = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * calibrationBody builds the PUT body from the fields' texts (name → text).
 * An empty field is left out (unset). It returns { body } or { errors }
 * (name → message) for texts that are not numbers at all.
 */
export function calibrationBody(values) {
  const parts = [];
  const errors = {};
  for (const { name } of CAL_FIELDS) {
    const text = (values[name] ?? '').trim();
    if (text === '') continue;
    if (!jsonNumber.test(text)) errors[name] = 'Not a number: write it like 1, -0.5 or 1.2e-3.';
    else parts.push(`${JSON.stringify(name)}:${text}`);
  }
  return Object.keys(errors).length > 0 ? { errors } : { body: `{${parts.join(',')}}` };
}

/**
 * fieldOf returns the calibration field an API error message names, or ''
 * when it names none (the message then goes above the form).
 */
export function fieldOf(message) {
  let found = '';
  for (const { name } of CAL_FIELDS) {
    // Longest match wins; names are whole words in the message.
    if (new RegExp(`(^|[^A-Za-z])${name}([^A-Za-z]|$)`, 'i').test(message) && name.length > found.length) found = name;
  }
  return found;
}

/** CalibrationForm is the form of one device's calibration. */
export class CalibrationForm {
  constructor(apiBase) {
    this.apiBase = apiBase;
    this.id = '';
    this.inputs = {};
    this.errors = {};
    const groups = new Map();
    for (const f of CAL_FIELDS) {
      const input = el('input', {
        id: `cal-${f.name}`,
        name: f.name,
        type: 'text',
        inputmode: 'decimal',
        autocomplete: 'off',
        spellcheck: 'false',
        'aria-describedby': `cal-${f.name}-error`,
      });
      const error = el('span', { id: `cal-${f.name}-error`, class: 'field-error', 'data-error-for': f.name, 'aria-live': 'polite' });
      this.inputs[f.name] = input;
      this.errors[f.name] = error;
      const row = el('label', { class: 'cal-field', for: input.id }, el('span', { text: f.part }), input, error);
      if (!groups.has(f.metric)) groups.set(f.metric, el('fieldset', { class: 'cal-group' }, el('legend', { text: f.metric })));
      groups.get(f.metric).append(row);
    }
    this.status = el('p', { id: 'calibration-status', class: 'form-status', role: 'status', hidden: true });
    this.save = el('button', { type: 'submit', id: 'calibration-save', text: 'Save calibration' });
    this.root = el(
      'form',
      { id: 'calibration-form', class: 'calibration', novalidate: '' },
      el('p', { class: 'hint', text: 'calibrated = value × slope + intercept; a metric is calibrated only with both set. Empty means unset.' }),
      ...groups.values(),
      el('div', { class: 'form-actions' }, this.save, this.status),
    );
    this.root.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  /** load shows device id's calibration (null: none). */
  load(id, cal) {
    this.id = id;
    this.clearErrors();
    this.setStatus('', '');
    for (const { name } of CAL_FIELDS) {
      const v = cal?.[name];
      this.inputs[name].value = typeof v === 'number' ? String(v) : '';
    }
    this.root.dataset.state = cal ? 'loaded' : 'none';
  }

  clearErrors() {
    for (const { name } of CAL_FIELDS) {
      this.errors[name].textContent = '';
      this.inputs[name].removeAttribute('aria-invalid');
    }
  }

  showError(name, message) {
    this.errors[name].textContent = message;
    this.inputs[name].setAttribute('aria-invalid', 'true');
  }

  setStatus(state, text) {
    this.status.textContent = text;
    this.status.hidden = text === '';
    if (state) this.status.dataset.state = state;
    else delete this.status.dataset.state;
  }

  async submit() {
    this.clearErrors();
    const values = {};
    for (const { name } of CAL_FIELDS) values[name] = this.inputs[name].value;
    const built = calibrationBody(values);
    if (built.errors) {
      for (const [name, message] of Object.entries(built.errors)) this.showError(name, message);
      this.setStatus('invalid', 'Not saved: fix the marked fields.');
      return;
    }
    const id = this.id;
    this.save.disabled = true;
    this.setStatus('saving', 'Saving…');
    try {
      const res = await putCalibration(this.apiBase, id, built.body);
      if (id !== this.id) return; // the page moved on to another device
      if (res.ok) {
        this.load(id, res.body);
        this.setStatus('saved', `Saved at ${new Date().toLocaleTimeString()}. New readings use it.`);
        return;
      }
      const name = res.status === 400 ? fieldOf(res.error) : '';
      if (name) this.showError(name, res.error);
      this.setStatus('refused', name ? 'Not saved: the API refused a value.' : `Not saved: ${res.error}`);
    } catch (err) {
      this.setStatus('refused', `Not saved: ${err.message}`);
    } finally {
      this.save.disabled = false;
    }
  }
}
