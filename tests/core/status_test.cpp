#include "core/status.h"

#include <gtest/gtest.h>

namespace um {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("not positive: " + std::to_string(x));
  return x;
}

Status doubled(int x, int* out) {
  UM_ASSIGN_OR_RETURN(int v, parse_positive(x));
  *out = 2 * v;
  return Status::Ok();
}

Status chain(int x) {
  int out = 0;
  UM_RETURN_IF_ERROR_CTX(doubled(x, &out), "chain");
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorStrings) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = not_found("key 'a'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.to_string(), "NOT_FOUND: key 'a'");
  EXPECT_EQ(s.with_context("loading x").message(), "loading x: key 'a'");
}

TEST(StatusTest, MacrosPropagateWithContext) {
  int out = 0;
  EXPECT_TRUE(doubled(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status s = chain(-1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "chain: not positive: -1");
}

TEST(StatusTest, ValueOfErrorResultThrows) {
  Result<int> r = parse_positive(0);
  EXPECT_FALSE(r.ok());
  EXPECT_THROW(r.value(), Error);
  Result<int> okr = parse_positive(3);
  EXPECT_EQ(*okr, 3);
}

}  // namespace
}  // namespace um
