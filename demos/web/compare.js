// The before/after view: the grayscale canvas lies over the colorization, clipped at the split;
// the range input or a drag on the picture moves the split.

/** Wires `split` (a 0..100 range input) and drags on `view` to clip `before` at that percentage. */
export function setupCompare(view, before, split) {
  const apply = () => {
    before.style.clipPath = `inset(0 ${100 - split.valueAsNumber}% 0 0)`;
  };
  const dragTo = (e) => {
    const box = view.getBoundingClientRect();
    if (box.width === 0) return;
    split.value = String(Math.round(((e.clientX - box.left) / box.width) * 100));
    apply();
  };
  split.addEventListener('input', apply);
  view.addEventListener('pointerdown', (e) => {
    view.setPointerCapture(e.pointerId);
    dragTo(e);
  });
  view.addEventListener('pointermove', (e) => {
    if (e.buttons & 1) dragTo(e);
  });
  apply();
}
