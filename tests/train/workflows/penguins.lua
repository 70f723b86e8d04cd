-- Multinomial logistic regression on penguins (3 classes, NA values,
-- categorical features), datasets and models crossing steps.
local orrery = require "orrery"
local wf = orrery.workflow { name = "penguins",
                             params = { C = 1.0, data = "" } }
local data = wf:step("load", function(ctx)
  local ds = ctx:dataset(ctx.params.data,
                         { target = "species", categorical = { "year" } })
  assert(ds.rows == 344, "rows " .. ds.rows)
  assert(#ds.columns == 8 and ds.target == "species")
  local d = ds:describe()
  assert(d.bill_length_mm.missing == 2 and d.sex.missing == 11)
  assert(d.species.levels == 3 and d.species.top == "Adelie")
  assert(d.island.type == "category" and d.body_mass_g.type == "number")
  assert(#ds.hash == 64)
  return ds:split { test = 0.25, seed = 7, stratify = true }
end)
local model = wf:step("train", { data }, function(ctx, s)
  assert(s.train.rows == 258 and s.test.rows == 86,
         s.train.rows .. "/" .. s.test.rows)
  local m = ctx:train("linear", s.train, { C = ctx.params.C })
  assert(m.task == "multiclass" and m.flavor == "linear")
  assert(#m.classes == 3 and m.classes[2] == "Chinstrap")
  return { model = m, test = s.test }
end)
wf:step("evaluate", { model }, function(ctx, r)
  local m, test = r.model, r.test
  local e = m:evaluate(test)
  local p = m:predict(test)
  local pp = m:predict_proba(test)
  assert(#p == 86 and #pp == 86 and #pp[1] == 3)
  assert(e.per_class.Gentoo.support == 31)
  print(("penguins accuracy=%.4f f1=%.4f auc=%.4f logloss=%.4f"):format(
    e.accuracy, e.f1, e.roc_auc, e.log_loss))
  print("confusion", e.confusion[1][1], e.confusion[2][2], e.confusion[3][3])
  assert(e.accuracy > 0.95, "accuracy " .. e.accuracy)
end)
return wf
