/* Linked with the whole of one layer's library and only the layers below it: a call from
 * that layer to a layer above it or beside it leaves a symbol undefined, and this fails to
 * link. See src/meson.build. */
int main(void)
{
	return 0;
}
