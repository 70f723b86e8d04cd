/*
 * tests/unit/test_runner_dag.c - the runner's checks of a workflow's step
 * graph (core/runner/dag.c) and --param value parsing.
 */
#include "runner/runner.h"
#include "test.h"

static void test_order_is_declaration_order(void)
{
    size_t in_b[] = {0}, in_c[] = {0, 1};
    struct orri_dag_node n[] = {{"a", NULL, 0}, {"b", in_b, 1},
                                {"c", in_c, 2}};
    size_t order[3];
    struct orr_error e = {0};
    CHECK_INT(orri_dag_order("wf", n, 3, order, &e), ORR_OK);
    CHECK_INT(order[0], 0);
    CHECK_INT(order[1], 1);
    CHECK_INT(order[2], 2);
}

static void test_order_respects_inputs(void)
{
    /* declared before its input (possible only by building nodes by hand) */
    size_t in_a[] = {1};
    struct orri_dag_node n[] = {{"a", in_a, 1}, {"b", NULL, 0}};
    size_t order[2];
    struct orr_error e = {0};
    CHECK_INT(orri_dag_order("wf", n, 2, order, &e), ORR_OK);
    CHECK_INT(order[0], 1);
    CHECK_INT(order[1], 0);
}

static void test_no_steps(void)
{
    struct orr_error e = {0};
    CHECK_INT(orri_dag_order("empty", NULL, 0, NULL, &e), ORR_EINVAL);
    CHECK_STR(e.msg, "workflow 'empty' has no steps");
}

static void test_duplicate(void)
{
    struct orri_dag_node n[] = {{"a", NULL, 0}, {"b", NULL, 0},
                                {"a", NULL, 0}};
    size_t order[3];
    struct orr_error e = {0};
    CHECK_INT(orri_dag_order("wf", n, 3, order, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "duplicate step name 'a'");
}

static void test_bad_input(void)
{
    size_t in_b[] = {ORRI_DAG_BAD_INPUT};
    struct orri_dag_node n[] = {{"a", NULL, 0}, {"b", in_b, 1}};
    size_t order[2];
    struct orr_error e = {0};
    CHECK_INT(orri_dag_order("wf", n, 2, order, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "input 1 of step 'b' is not a step of this "
                          "workflow");
    size_t in_c[] = {7};
    n[1].inputs = in_c;
    CHECK_INT(orri_dag_order("wf", n, 2, order, &e), ORR_EINVAL);
}

static void test_self_and_cycle(void)
{
    size_t self[] = {0};
    struct orri_dag_node one[] = {{"a", self, 1}};
    size_t order[3];
    struct orr_error e = {0};
    CHECK_INT(orri_dag_order("wf", one, 1, order, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "step 'a' takes its own output");
    size_t in_a[] = {2}, in_b[] = {0}, in_c[] = {1};
    struct orri_dag_node cyc[] = {{"a", in_a, 1}, {"b", in_b, 1},
                                  {"c", in_c, 1}};
    CHECK_INT(orri_dag_order("wf", cyc, 3, order, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "form a cycle");
}

static void test_unnamed(void)
{
    struct orri_dag_node n[] = {{"", NULL, 0}};
    size_t order[1];
    struct orr_error e = {0};
    CHECK_INT(orri_dag_order("wf", n, 1, order, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "step 1 has no name");
}

static void test_param_classify(void)
{
    CHECK_INT(orri_param_classify("true"), ORRI_PARAM_BOOLEAN);
    CHECK_INT(orri_param_classify("false"), ORRI_PARAM_BOOLEAN);
    CHECK_INT(orri_param_classify("True"), ORRI_PARAM_STRING);
    CHECK_INT(orri_param_classify("42"), ORRI_PARAM_INTEGER);
    CHECK_INT(orri_param_classify("-3"), ORRI_PARAM_INTEGER);
    CHECK_INT(orri_param_classify("0.5"), ORRI_PARAM_NUMBER);
    CHECK_INT(orri_param_classify("1e-3"), ORRI_PARAM_NUMBER);
    CHECK_INT(orri_param_classify("nan"), ORRI_PARAM_STRING);
    CHECK_INT(orri_param_classify("inf"), ORRI_PARAM_STRING);
    CHECK_INT(orri_param_classify(""), ORRI_PARAM_STRING);
    CHECK_INT(orri_param_classify("12abc"), ORRI_PARAM_STRING);
    CHECK_INT(orri_param_classify(" 1"), ORRI_PARAM_STRING);
}

TEST_MAIN({"order_is_declaration_order", test_order_is_declaration_order},
          {"order_respects_inputs", test_order_respects_inputs},
          {"no_steps", test_no_steps},
          {"duplicate", test_duplicate},
          {"bad_input", test_bad_input},
          {"self_and_cycle", test_self_and_cycle},
          {"unnamed", test_unnamed},
          {"param_classify", test_param_classify})
