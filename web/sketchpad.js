// The drawing area: a plain canvas, drawn on with a mouse, a pen or a finger from the
// first touch. Gradio runs this with `element` (the component) and `props` (its value).
// When the pen lifts, one small PNG of the whole drawing (ink in the alpha channel) is
// sent in a single request.
const canvas = element.querySelector('canvas');
const ctx = canvas.getContext('2d');
const strokes = [];
let current = null;
const at = (e) => {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width,
          (e.clientY - r.top) * canvas.height / r.height];
};
const line = (points) => {
  ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.lineWidth = Number(canvas.dataset.pen);
  ctx.strokeStyle = '#000';
  ctx.beginPath(); ctx.moveTo(...points[0]);
  for (const p of points) ctx.lineTo(...p);
  ctx.stroke();
};
// a new value is itself the component's change event: one request. The server answers
// one at a time and keeps only the newest value waiting, so frames are skipped, not queued.
const send = () => { props.value = strokes.length ? canvas.toDataURL('image/png') : ''; };
// While the pen moves, the drawing so far goes at most every LIVE_MS, marked "live:":
// the answer alone comes back; lifting the pen sends it unmarked, for the full answer. A
// stroke sends nothing live for its first LIVE_AFTER_MS: a quick one's full answer would
// only wait behind a live one.
const LIVE_MS = 166, LIVE_AFTER_MS = 500;
let lastLive = 0;
let downAt = 0;
const sendLive = () => {
  const now = performance.now();
  if (now - downAt < LIVE_AFTER_MS || now - lastLive < LIVE_MS) return;
  lastLive = now;
  props.value = 'live:' + canvas.toDataURL('image/png');
};
const redraw = () => {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  strokes.forEach(line);
  send();
};
canvas.addEventListener('pointerdown', (e) => {
  if (e.button > 0) return;
  e.preventDefault();
  canvas.setPointerCapture(e.pointerId);
  downAt = performance.now();
  current = [at(e)];
  strokes.push(current);
  line([current[0], current[0]]);
});
canvas.addEventListener('pointermove', (e) => {
  if (!current) return;
  const p = at(e);
  line([current[current.length - 1], p]);
  current.push(p);
  sendLive();
});
const lift = () => { if (current) { current = null; send(); } };
canvas.addEventListener('pointerup', lift);
canvas.addEventListener('pointercancel', lift);
element.querySelector('.undo').addEventListener('click', () => { strokes.pop(); redraw(); });
element.querySelector('.clear').addEventListener('click', () => {
  strokes.length = 0; redraw();
});
