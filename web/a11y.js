// What Gradio's components lack for screen readers and keyboards, added in the browser: an
// alt text on every output picture that says what it shows (and, beside an answer, the
// answer), an announcement of each final answer, and fixes for Gradio markup that axe-core
// flags (an aria-label on a plain div, a scrolling table that no key can reach, example buttons
// without a name).
const live = element.querySelector('#answer-live');
const PICTURES = {
  seen: 'The 28x28 image the model saw',
  overlay: 'Why: the explanation overlay over the 28x28 image, bright where pixels drove the answer',
  fooled: 'The changed 28x28 input that fools the model',
  digits: 'The number, digit by digit: each digit as the model saw it, with its answer',
  change: 'The change that fools the model, amplified: red where ink was added, blue where it was taken away',
};
const FIGURES = {
  'study-figure': 'The comparison study: test accuracy of every model against its size and speed',
  'card-confusion': 'Confusion matrix of the chosen model on its test set',
  'card-wrong': 'Test images the chosen model got wrong, with its answers',
  'card-curves': 'Training curves of the chosen model: loss and accuracy by epoch',
  'card-filters': 'The filters of the chosen model\'s first convolutional layer',
};
const spoken = {};

function answer(dataset) {
  // the label's lines: its title, the top class, then each class and its percentage
  const label = document.getElementById(`${dataset}-label`);
  if (!label) return null;
  const lines = label.innerText.split('\n').map(s => s.trim()).filter(Boolean);
  if (lines.length < 4 || !lines[3].endsWith('%')) return null;
  return { title: lines[0], top: lines[1], pct: lines[3] };
}

function describe(img, text) {
  if (img.getAttribute('alt') !== text) img.setAttribute('alt', text);
  const button = img.closest('button');  // Gradio wraps an output picture in a button
  if (button && button.getAttribute('aria-label') !== text) button.setAttribute('aria-label', text);
}

function tidy() {
  for (const dataset of ['mnist', 'fashion-mnist']) {
    const a = answer(dataset);
    for (const [part, text] of Object.entries(PICTURES)) {
      const said = a && (part === 'seen' || part === 'overlay') ? `${text}; the answer: ${a.top}, ${a.pct}` : text;
      document.querySelectorAll(`#${dataset}-${part} img`).forEach(img => describe(img, said));
    }
    if (a && !a.title.startsWith('While you draw')) {  // never the answers while the pen moves
      // with what the page says of it: a number read, or "does not look like a digit"
      const status = (document.getElementById(`${dataset}-status`)?.innerText || '').trim();
      const text = `${dataset === 'mnist' ? 'Digit' : 'Clothing'}: ${a.top}, ${a.pct}. ${status.slice(0, 200)}`.trim();
      if (spoken[dataset] !== text) { spoken[dataset] = text; live.textContent = text; }
    }
  }
  for (const [id, text] of Object.entries(FIGURES)) {
    document.querySelectorAll(`#${id} img`).forEach(img => describe(img, text));
  }
  document.querySelectorAll('button.gallery-item:not([aria-label])').forEach(button => {
    const img = button.querySelector('img');  // an example: named after its file
    const file = img && decodeURIComponent(img.src.split('/').pop().split('?')[0]);
    if (file) button.setAttribute('aria-label', `Example image ${file.replace(/\.\w+$/, '')}`);
  });
  document.querySelectorAll('.empty[aria-label]:not([role])').forEach(div => {
    div.setAttribute('role', 'img');
    div.setAttribute('aria-label', 'No picture yet');
  });
  document.querySelectorAll('.prose table:not([tabindex])').forEach(t => t.setAttribute('tabindex', '0'));
}

let pending = false;
new MutationObserver(() => {
  if (pending) return;
  pending = true;
  setTimeout(() => { pending = false; tidy(); }, 150);
}).observe(document.body, { subtree: true, childList: true, characterData: true });
tidy();
