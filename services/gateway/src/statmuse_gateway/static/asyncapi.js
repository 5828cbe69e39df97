// Starts the AsyncAPI viewer on /docs/asyncapi (an external file: no inline script).
window.addEventListener("DOMContentLoaded", async () => {
  const root = document.getElementById("asyncapi");
  let schema;
  try {
    const response = await fetch(root.dataset.documentUrl);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    schema = await response.json();
  } catch (err) {
    root.textContent = `The AsyncAPI document could not be loaded: ${err.message}`;
    return;
  }
  window.AsyncApiStandalone.render(
    { schema, config: { show: { sidebar: true, errors: true } } },
    root,
  );
});
