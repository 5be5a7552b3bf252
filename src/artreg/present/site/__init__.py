"""The pages of `artreg site`: the folder written (`build`), the frame and shared pieces
(`base`), the index and listings (`pages`), a name's page (`model_page`), a release's or
validated artifact's page (`entry_page`), the inline SVG charts (`svg`) and the model card's
front matter table (`front_matter`). It may import the collection in `artreg.features.site`
(which reads git and the configuration), the domain modules and `markdown_html`; it never runs
git itself except through that collection. Docstring only: no re-exports.
"""
