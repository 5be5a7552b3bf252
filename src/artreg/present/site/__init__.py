"""The pages of `artreg site`: the folder written (`build`), the Jinja2 templates of
`artreg/templates/site/` compiled once (`templates`), the links, times and tables every page
shares (`base`), the index and listings (`pages`), a name's page (`model_page`), a release's or
validated artifact's page (`entry_page`), the inline SVG charts (`svg`) and the model card's
front matter table (`front_matter`), and the model card's markdown (`markdown`). It may
import the collection in `artreg.services.site` (which reads git and the configuration), the
domain modules, `adapters.files`, Jinja2 and markdown-it-py (inside functions); nothing here runs git. Docstring only: no re-exports.
"""
