/**
 * Resolves in a task of its own once the next frame has been painted: a frame's animation callbacks run just before
 * its paint, and a task queued from one runs after it. A hidden page paints no frames (and runs no animation
 * callbacks), so it only waits for a task.
 */
export function afterPaint(): Promise<void> {
  return new Promise((resolve) => {
    if (document.visibilityState === 'hidden') setTimeout(resolve, 0);
    else requestAnimationFrame(() => setTimeout(resolve, 0));
  });
}
