"""The planned executor: documents seen before run as compiled plans, without the generic
executor, with exactly the answers Strawberry gives."""
