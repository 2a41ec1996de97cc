// The API reference page: Swagger UI (from npm, served by this site) on /api/v1/openapi.json. Requests made with
// "Try it out" carry the page's CSRF token, so a signed-in user can call the API with their session.
(function () {
  const holder = document.getElementById("swagger-ui");
  if (!holder || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: holder.dataset.spec,
    domNode: holder,
    deepLinking: true,
    requestInterceptor: function (req) {
      req.headers["X-CSRF-Token"] = holder.dataset.csrf;
      return req;
    },
  });
})();
