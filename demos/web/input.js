// Where photos come from: dropped on the page, picked, pasted, or taken with the camera
// (getUserMedia where there is one, else the file input with `capture`, which phones open as
// their camera).

function firstFile(list) {
  return list && list.length > 0 ? list[0] : null;
}

/** Calls onImage(blob, name) for every photo the user gives; onError(message) when the camera fails. */
export function watchInputs(els, onImage, onError) {
  const { drop, file, capture, camera, dialog, video, shoot, cancel } = els;
  const take = (f, fallbackName) => {
    if (f) onImage(f, f.name || fallbackName);
  };

  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  document.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) drop.classList.remove('over');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    take(firstFile(e.dataTransfer?.files), 'dropped image');
  });
  for (const input of [file, capture]) {
    input.addEventListener('change', () => {
      take(firstFile(input.files), 'photo');
      input.value = ''; // picking the same file again still fires 'change'
    });
  }
  document.addEventListener('paste', (e) => {
    const f = firstFile(e.clipboardData?.files);
    if (!f) return;
    e.preventDefault();
    take(f, 'pasted image.png');
  });

  let stream = null;
  const stop = () => {
    for (const t of stream?.getTracks() ?? []) t.stop();
    stream = null;
    video.srcObject = null;
    if (dialog.open) dialog.close();
  };
  camera.addEventListener('click', async () => {
    if (!navigator.mediaDevices?.getUserMedia) {
      capture.click();
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      video.srcObject = stream;
      dialog.showModal();
    } catch (e) {
      onError(`The camera is not available (${e?.message ?? e}); choose a photo instead.`);
      stop();
    }
  });
  shoot.addEventListener('click', () => {
    const c = document.createElement('canvas');
    c.width = video.videoWidth;
    c.height = video.videoHeight;
    c.getContext('2d').drawImage(video, 0, 0);
    stop();
    c.toBlob((blob) => take(blob && new File([blob], 'camera.png', { type: 'image/png' }), 'camera.png'), 'image/png');
  });
  cancel.addEventListener('click', stop);
  dialog.addEventListener('cancel', stop);
}
