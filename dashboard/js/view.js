// The page: toolbar, pager and the grid of cards for the current page. Only
// one page of cards is in the DOM; updates to devices elsewhere change the
// model only. DOM work is batched into one animation frame.
import { Card } from './card.js';
import { integer } from './format.js';

/** View renders the model into the page's elements. */
export class View {
  constructor(model, settings, doc = document) {
    this.model = model;
    this.offlineMs = settings.offlineAfterSeconds * 1000;
    this.pageSize = settings.pageSize;
    this.els = {
      grid: doc.getElementById('devices'),
      search: doc.getElementById('search'),
      metric: doc.getElementById('metric'),
      prev: doc.getElementById('page-prev'),
      next: doc.getElementById('page-next'),
      pageInfo: doc.getElementById('page-info'),
      summary: doc.getElementById('summary'),
      empty: doc.getElementById('empty'),
      updated: doc.getElementById('last-updated'),
    };
    this.page = 0;
    this.pages = 1;
    this.query = '';
    this.metric = this.els.metric.value;
    this.cards = new Map(); // id → Card, for the current page only
    this.dirty = new Set();
    this.layoutDirty = true;
    this.frame = 0;
    this.lastUpdated = null;
    this.onShown = null; // (ids, metric): cards shown, for their history

    this.els.search.addEventListener('input', () => {
      this.query = this.els.search.value;
      this.page = 0;
      this.relayout();
    });
    this.els.metric.addEventListener('change', () => {
      this.metric = this.els.metric.value;
      this.onShown?.([...this.cards.keys()], this.metric);
      for (const id of this.cards.keys()) this.dirty.add(id);
      this.schedule();
    });
    this.els.prev.addEventListener('click', () => this.turn(-1));
    this.els.next.addEventListener('click', () => this.turn(1));
    // Canvas bitmaps follow their CSS size; redraw after a resize.
    globalThis.addEventListener?.('resize', () => this.redrawAll());
  }

  /** redrawAll redraws every card shown, as after the grid was hidden. */
  redrawAll() {
    for (const id of this.cards.keys()) this.dirty.add(id);
    this.schedule();
  }

  /** changed tells the view that devices ids changed, some of them new. */
  changed(ids, added) {
    if (added) this.layoutDirty = true;
    for (const id of ids) if (this.cards.has(id)) this.dirty.add(id);
    this.lastUpdated = Date.now();
    this.schedule();
  }

  relayout() {
    this.layoutDirty = true;
    this.schedule();
  }

  turn(delta) {
    this.page = Math.min(Math.max(0, this.page + delta), this.pages - 1);
    this.relayout();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    this.frame = 0;
    const now = Date.now();
    if (this.layoutDirty) this.layout(now);
    for (const id of this.dirty) {
      const card = this.cards.get(id);
      if (card) card.update(this.model.get(id), now, this.offlineMs, this.metric);
    }
    this.dirty.clear();
    this.summarise();
    if (this.lastUpdated !== null) {
      const t = new Date(this.lastUpdated);
      this.els.updated.dateTime = t.toISOString();
      this.els.updated.textContent = t.toLocaleTimeString();
    }
  }

  // layout puts the cards of the current page in the grid, reusing the
  // cards of devices that stay on it.
  layout(now) {
    this.layoutDirty = false;
    const ids = this.model.filter(this.query);
    this.pages = Math.max(1, Math.ceil(ids.length / this.pageSize));
    this.page = Math.min(this.page, this.pages - 1);
    const shown = ids.slice(this.page * this.pageSize, (this.page + 1) * this.pageSize);
    const cards = new Map();
    const fresh = [];
    for (const id of shown) {
      let card = this.cards.get(id);
      if (!card) {
        card = new Card(id);
        fresh.push(card);
      }
      cards.set(id, card);
    }
    this.cards = cards;
    this.els.grid.replaceChildren(...[...cards.values()].map((c) => c.root));
    // Drawn after insertion: a chart has no size before it is laid out.
    for (const card of fresh) card.update(this.model.get(card.id), now, this.offlineMs, this.metric);
    if (fresh.length > 0) this.onShown?.(fresh.map((c) => c.id), this.metric);

    const { prev, next, pageInfo, empty } = this.els;
    prev.disabled = this.page === 0;
    next.disabled = this.page >= this.pages - 1;
    pageInfo.textContent = `Page ${this.page + 1} of ${this.pages}`;
    pageInfo.dataset.page = String(this.page + 1);
    pageInfo.dataset.pages = String(this.pages);
    empty.hidden = shown.length > 0;
    empty.textContent = this.model.size === 0 ? 'No devices yet: waiting for the first message.' : 'No device id matches the search.';
  }

  // summarise says how many devices match the search. The fleet's figures
  // are the server's (fleet.js): the page does not count its device list.
  summarise() {
    const q = this.query.trim();
    const matching = q === '' ? 0 : this.model.filter(q).length;
    this.els.summary.textContent = q === '' ? '' : `${integer(matching)} matching`;
    this.els.summary.hidden = q === '';
  }

  /** tick refreshes relative times and online badges, once a second. */
  tick() {
    const now = Date.now();
    for (const [id, card] of this.cards) card.tick(this.model.get(id), now, this.offlineMs);
  }
}
