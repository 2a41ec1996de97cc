// Cross-field rules of a task form (x-compare, minimumDate/maximumDate) as live hints: a date input that must be on
// or after (before) another field gets that field's value as its min (max), so the browser's picker and its own
// validation follow the rule. Only an enhancement: the server checks every rule and shows its message beside the field.
(function () {
  "use strict";
  document.querySelectorAll("input[type=date][data-compare]").forEach(function (input) {
    var form = input.form;
    if (!form) { return; }
    var rules = input.getAttribute("data-compare").split(";").map(function (rule) {
      return rule.trim().split(/\s+/);
    }).filter(function (rule) { return rule.length === 2 && (rule[0] === ">=" || rule[0] === "<="); });
    function apply() {
      rules.forEach(function (rule) {
        var other = form.elements.namedItem(rule[1]);
        var bound = rule[0] === ">=" ? "min" : "max";
        if (other && other.value && /^\d{4}-\d{2}-\d{2}$/.test(other.value)) {
          input.setAttribute(bound, other.value);
        } else {
          input.removeAttribute(bound);
        }
      });
    }
    rules.forEach(function (rule) {
      var other = form.elements.namedItem(rule[1]);
      if (other && other.addEventListener) {
        other.addEventListener("input", apply);
        other.addEventListener("change", apply);
      }
    });
    apply();
  });
})();
