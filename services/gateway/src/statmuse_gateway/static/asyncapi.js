// Starts the AsyncAPI viewer on /docs/asyncapi (an external file: no inline script).
window.addEventListener("DOMContentLoaded", async () => {
  const root = document.getElementById("asyncapi");
  const response = await fetch(root.dataset.documentUrl);
  const schema = await response.json();
  window.AsyncApiStandalone.render(
    { schema, config: { show: { sidebar: true, errors: true } } },
    root,
  );
});
