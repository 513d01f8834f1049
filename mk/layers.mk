# mk/layers.mk - `make check-layers` (part of `make test`): the call graph
# between the folders of runtime/src, read from the library's objects with
# nm, must follow the layers (no circle), and no C function outside the
# tests may pass 80 lines (mk/check_layers.py; docs/runtime.md, "Map").
TEST_TARGETS += check-layers
.PHONY: check-layers
check-layers: $(LIB_OBJS)
	@python3 mk/check_layers.py $(BUILD)
